import CBPF
import Foundation
import Glibc

/// Everything `bpf_prog_info` says about a loaded program, for `xdpbatch
/// prog`: identity, sizes, the verifier's work, run statistics, its maps,
/// and on request the kernel's translated and JIT-compiled code.
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

  /// Average nanoseconds per run, when there were runs.
  public var nanosecondsPerRun: Double? {
    runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
  }

  /// Reads the program behind `descriptor`.
  public init(_ descriptor: KernelDescriptor) throws(SystemCallError) {
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    try check("read program info") { bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length) }
    var mapIDs = [UInt32](repeating: 0, count: Int(info.nr_map_ids))
    if !mapIDs.isEmpty {
      var second = bpf_prog_info()
      second.nr_map_ids = UInt32(mapIDs.count)
      var secondLength = UInt32(MemoryLayout<bpf_prog_info>.size)
      let code = mapIDs.withUnsafeMutableBufferPointer { buffer in
        second.map_ids = UInt64(UInt(bitPattern: buffer.baseAddress))
        errno = 0
        return bpf_obj_get_info_by_fd(descriptor.rawValue, &second, &secondLength) < 0 ? errno : 0
      }
      if code != 0 {
        throw SystemCallError("read the map ids of program \(info.id)", code: code)
      }
      mapIDs = Array(mapIDs.prefix(Int(second.nr_map_ids)))
    }
    id = info.id
    tag = withUnsafeBytes(of: info.tag) { $0.map { String(format: "%02x", $0) }.joined() }
    let kernelName = withUnsafeBytes(of: info.name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    name =
      (info.btf_id != 0 ? ProgramInfo.functionName(descriptor, btfID: info.btf_id) : nil)
      ?? kernelName
    loadTime = Self.wallClock(bootNanoseconds: info.load_time)
    btfID = info.btf_id
    verifiedInstructions = info.verified_insns
    xlatedBytes = info.xlated_prog_len
    jitedBytes = info.jited_prog_len
    runCount = info.run_cnt
    runTimeNanoseconds = info.run_time_ns
    self.mapIDs = mapIDs
  }

  /// The kernel's translated instructions (8 bytes each), as
  /// `bpftool prog dump xlated` reads them.
  public static func xlatedCode(_ descriptor: KernelDescriptor) throws(SystemCallError) -> [UInt8] {
    try code(descriptor, jited: false)
  }

  /// The JIT-compiled machine code; empty when the program is interpreted.
  public static func jitedCode(_ descriptor: KernelDescriptor) throws(SystemCallError) -> [UInt8] {
    try code(descriptor, jited: true)
  }

  private static func code(_ descriptor: KernelDescriptor, jited: Bool) throws(SystemCallError)
    -> [UInt8]
  {
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    try check("read program info") { bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length) }
    let size = Int(jited ? info.jited_prog_len : info.xlated_prog_len)
    guard size > 0 else { return [] }
    var bytes = [UInt8](repeating: 0, count: size)
    var second = bpf_prog_info()
    var secondLength = UInt32(MemoryLayout<bpf_prog_info>.size)
    let code = bytes.withUnsafeMutableBytes { buffer in
      let address = UInt64(UInt(bitPattern: buffer.baseAddress))
      if jited {
        second.jited_prog_len = UInt32(size)
        second.jited_prog_insns = address
      } else {
        second.xlated_prog_len = UInt32(size)
        second.xlated_prog_insns = address
      }
      errno = 0
      return bpf_obj_get_info_by_fd(descriptor.rawValue, &second, &secondLength) < 0 ? errno : 0
    }
    if code != 0 {
      throw SystemCallError(
        "read the \(jited ? "JIT-compiled" : "translated") code of program \(info.id)", code: code)
    }
    return bytes
  }

  /// A `CLOCK_BOOTTIME` instant (nanoseconds since boot) as wall-clock time.
  static func wallClock(bootNanoseconds: UInt64) -> Date {
    var boot = timespec()
    clock_gettime(CLOCK_BOOTTIME, &boot)
    let sinceBoot = Double(boot.tv_sec) + Double(boot.tv_nsec) / 1e9
    let bootedAt = Date().timeIntervalSince1970 - sinceBoot
    return Date(timeIntervalSince1970: bootedAt + Double(bootNanoseconds) / 1e9)
  }

  enum CodingKeys: String, CodingKey {
    case id, tag, name
    case loadTime = "load_time"
    case btfID = "btf_id"
    case verifiedInstructions = "verified_instructions"
    case xlatedBytes = "xlated_bytes"
    case jitedBytes = "jited_bytes"
    case runCount = "run_count"
    case runTimeNanoseconds = "run_time_ns"
    case nanosecondsPerRun = "ns_per_run"
    case mapIDs = "map_ids"
  }

  /// JSON in docs/DESIGN.md's shape ("Command line", `prog --json`); `load_time` as ISO 8601.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(id, forKey: .id)
    try container.encode(tag, forKey: .tag)
    try container.encode(name, forKey: .name)
    try container.encode(ISO8601DateFormatter().string(from: loadTime), forKey: .loadTime)
    try container.encode(btfID, forKey: .btfID)
    try container.encode(verifiedInstructions, forKey: .verifiedInstructions)
    try container.encode(xlatedBytes, forKey: .xlatedBytes)
    try container.encode(jitedBytes, forKey: .jitedBytes)
    try container.encode(runCount, forKey: .runCount)
    try container.encode(runTimeNanoseconds, forKey: .runTimeNanoseconds)
    try container.encode(nanosecondsPerRun, forKey: .nanosecondsPerRun)
    try container.encode(mapIDs, forKey: .mapIDs)
  }
}
