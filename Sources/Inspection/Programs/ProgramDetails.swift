import BPF
import Foundation
import Kernel

/// Everything the kernel says about a loaded program, for `xdpbatch prog`
/// and the console: identity, sizes, the verifier's work, run statistics
/// and the ids of its maps, whoever loaded it.
public struct ProgramDetails: Sendable, Encodable {
  /// The kernel id.
  public var id: UInt32
  /// The program tag (a hash of its instructions), hex.
  public var tag: String
  /// The full name from BTF when loaded with BTF, else the kernel's
  /// 15 characters.
  public var name: String
  /// When it was loaded, wall clock.
  public var loadTime: Date
  /// Its BTF object id (0: loaded without BTF).
  public var btfID: UInt32
  /// Instructions the verifier processed.
  public var verifiedInstructions: UInt32
  /// Bytes of translated (xlated) instructions.
  public var xlatedBytes: UInt32
  /// Bytes of JIT-compiled machine code (0: interpreted).
  public var jitedBytes: UInt32
  /// Runs counted while run statistics were on.
  public var runCount: UInt64
  /// Nanoseconds spent while run statistics were on.
  public var runTimeNanoseconds: UInt64
  /// The ids of the maps it uses.
  public var mapIDs: [UInt32]

  /// Average nanoseconds per run, when there were runs (JSON: `null`
  /// when there were none).
  @NullWhenAbsent public var nanosecondsPerRun: Double?

  /// Reads `program`.
  public init(_ program: LoadedProgram) throws(SystemCallError) {
    let info = try program.info()
    id = info.id
    tag = info.tag
    name = info.name
    loadTime = info.loadTime
    btfID = info.btfID ?? 0
    verifiedInstructions = info.verifiedInstructions
    xlatedBytes = info.xlatedBytes
    jitedBytes = info.jitedBytes
    runCount = info.runCount
    runTimeNanoseconds = info.runTimeNanoseconds
    nanosecondsPerRun = info.nanosecondsPerRun
    mapIDs = try program.mapIDs()
  }

  /// Reads program `id`, whoever loaded it: what the console shows for a
  /// program another tool attached.
  public static func read(id: UInt32) throws(SystemCallError) -> ProgramDetails {
    try ProgramDetails(LoadedProgram.open(id: id))
  }

  /// What the kernel says about each map the program uses; a map that
  /// went away since the program was read is left out.
  public func maps() -> [MapInfo] {
    mapIDs.compactMap { id in try? KernelMap.open(id: id).info }
  }

  /// JSON in docs/DESIGN.md's shape ("Command line", `prog --json`;
  /// `load_time` in ISO 8601 by ``BPF/JSONCoding``).
  private enum CodingKeys: String, CodingKey {
    case id, tag, name, loadTime, btfID, verifiedInstructions, xlatedBytes, jitedBytes
    case runCount, mapIDs
    case runTimeNanoseconds = "runTimeNs"
    case nanosecondsPerRun = "nsPerRun"
  }
}
