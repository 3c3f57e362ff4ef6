import BPF
import CBPF
import Foundation
import Glibc

/// What `bpf_prog_info` says about a loaded program: identity, sizes, the
/// verifier's work and run statistics. The map ids and the kernel's code
/// are read on request (``LoadedProgram/mapIDs()``,
/// ``LoadedProgram/translatedCode()``, ``LoadedProgram/machineCode()``).
public struct ProgramInfo: Hashable, Sendable {
  /// The kernel's program id.
  public var id: UInt32
  /// The program's full name: its BTF function name when it was loaded
  /// with BTF (as bpftool shows it), else the kernel's 15 characters.
  public var name: String
  /// The program tag (a hash of its instructions), hex.
  public var tag: String = ""
  /// When it was loaded, wall clock.
  public var loadTime = Date(timeIntervalSince1970: 0)
  /// The id of the BTF it was loaded with, if any.
  public var btfID: UInt32?
  /// Instructions the verifier processed.
  public var verifiedInstructions: UInt32 = 0
  /// Bytes of translated (xlated) instructions.
  public var xlatedBytes: UInt32 = 0
  /// Bytes of JIT-compiled machine code (0: interpreted).
  public var jitedBytes: UInt32 = 0
  /// Runs counted while `BPF_ENABLE_STATS` was on.
  public var runCount: UInt64
  /// Nanoseconds spent in the program while statistics were on.
  public var runTimeNanoseconds: UInt64

  /// Describes a program.
  public init(id: UInt32, name: String, runCount: UInt64 = 0, runTimeNanoseconds: UInt64 = 0) {
    self.id = id
    self.name = name
    self.runCount = runCount
    self.runTimeNanoseconds = runTimeNanoseconds
  }

  /// Average nanoseconds per run, when there were runs.
  public var nanosecondsPerRun: Double? {
    runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
  }

  /// Reads `bpf_prog_info` through `bpf_obj_get_info_by_fd`.
  init(descriptor: KernelDescriptor) throws(SystemCallError) {
    let info = try ObjectInfo.read(bpf_prog_info.self, of: descriptor, "read program info")
    let kernelName = withUnsafeBytes(of: info.name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    let full = info.btf_id != 0 ? Self.functionName(descriptor, btfID: info.btf_id) : nil
    self.init(
      id: info.id, name: full ?? kernelName, runCount: info.run_cnt,
      runTimeNanoseconds: info.run_time_ns)
    btfID = info.btf_id != 0 ? info.btf_id : nil
    tag = withUnsafeBytes(of: info.tag) { $0.map { String(format: "%02x", $0) }.joined() }
    loadTime = Self.wallClock(bootNanoseconds: info.load_time)
    verifiedInstructions = info.verified_insns
    xlatedBytes = info.xlated_prog_len
    jitedBytes = info.jited_prog_len
  }

  /// The BTF name of the program's first function record (bpftool's
  /// `get_prog_full_name`), or nil when it cannot be read.
  static func functionName(_ descriptor: KernelDescriptor, btfID: UInt32) -> String? {
    var record = bpf_func_info()
    let info = withUnsafeMutablePointer(to: &record) { pointer in
      try? ObjectInfo.read(bpf_prog_info.self, of: descriptor, "read the function records") {
        $0.pointee.nr_func_info = 1
        $0.pointee.func_info_rec_size = UInt32(MemoryLayout<bpf_func_info>.size)
        $0.pointee.func_info = UInt64(UInt(bitPattern: pointer))
      }
    }
    guard let info, info.nr_func_info > 0 else { return nil }
    return KernelBTFObject.typeName(btfID: btfID, typeID: record.type_id)
  }

  /// A `CLOCK_BOOTTIME` instant (nanoseconds since boot) as wall-clock time.
  static func wallClock(bootNanoseconds: UInt64) -> Date {
    var boot = timespec()
    clock_gettime(CLOCK_BOOTTIME, &boot)
    let sinceBoot = Double(boot.tv_sec) + Double(boot.tv_nsec) / 1e9
    let bootedAt = Date().timeIntervalSince1970 - sinceBoot
    return Date(timeIntervalSince1970: bootedAt + Double(bootNanoseconds) / 1e9)
  }
}
