import BPF
import CBPF
import Glibc

/// An XDP program loaded into the kernel (it passed the verifier), reached
/// through its descriptor.
public struct LoadedProgram: Sendable {
  /// The open descriptor; the program stays loaded while it or an
  /// attachment holds it.
  public let descriptor: KernelDescriptor
  /// The name it was loaded under (the kernel keeps 15 characters).
  public let name: String

  /// Wraps an open program descriptor.
  public init(descriptor: KernelDescriptor, name: String) {
    self.descriptor = descriptor
    self.name = name
  }

  /// Loads `instructions` as an XDP program through `BPF_PROG_LOAD`.
  ///
  /// The instructions must be ready for the kernel: map references already
  /// patched to descriptors (``ProgramLoader`` does that). When the
  /// verifier refuses the program, the load is repeated with the verifier
  /// log on and the error carries the log's last lines and the instruction
  /// index it names.
  ///
  /// With `btf`, the BTF is loaded first and the program gets it with its
  /// function records (its full name and a `btf_id`); when the kernel
  /// refuses that BTF, the program loads without, as libbpf does.
  public static func load(
    name: String, instructions: [Instruction], license: String = "GPL", btf: KernelBTF? = nil
  ) throws(LoadError) -> LoadedProgram {
    let bytes = Instruction.encode(instructions)
    let kernelName = String(name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
    let debug = btf.flatMap(DebugInfo.init)
    if case .success(let fd) = attempt(kernelName, bytes, license, debug, logSize: 0) {
      return LoadedProgram(descriptor: KernelDescriptor(owning: fd), name: name)
    }
    var logSize = 1 << 20
    while true {
      switch attempt(kernelName, bytes, license, debug, logSize: logSize) {
      case .success(let fd):
        // Loaded on the second try (a transient failure): keep it.
        return LoadedProgram(descriptor: KernelDescriptor(owning: fd), name: name)
      case .failure(let failure) where failure.code == ENOSPC && logSize < 1 << 26:
        logSize <<= 2
      case .failure(let failure):
        let log = VerifierLog(failure.log)
        if failure.log.isEmpty || failure.code == EPERM {
          throw .kernel(
            program: name, SystemCallError("load program \"\(name)\"", code: failure.code))
        }
        throw .rejected(
          program: name, instruction: log.rejectedInstruction,
          reason: log.lastLines(log.lines.count),
          code: failure.code)
      }
    }
  }

  private struct Failure: Error {
    var code: Int32
    var log: String
  }

  /// A loaded BTF object and the function records that point into it.
  final class DebugInfo: @unchecked Sendable {
    let descriptor: KernelDescriptor
    var functions: [bpf_func_info]

    /// Loads `btf` into the kernel; nil when the kernel refuses it.
    init?(_ btf: KernelBTF) {
      var options = bpf_btf_load_opts()
      options.sz = MemoryLayout<bpf_btf_load_opts>.size
      let fd = btf.bytes.withUnsafeBytes { raw in
        bpf_btf_load(raw.baseAddress, raw.count, &options)
      }
      guard fd >= 0 else { return nil }
      descriptor = KernelDescriptor(owning: fd)
      functions = btf.functions.map {
        bpf_func_info(insn_off: UInt32($0.instruction), type_id: $0.typeID)
      }
    }
  }

  private static func attempt(
    _ name: String, _ bytes: [UInt8], _ license: String, _ debug: DebugInfo?, logSize: Int
  ) -> Result<Int32, Failure> {
    var log = [CChar](repeating: 0, count: max(logSize, 1))
    var options = bpf_prog_load_opts()
    options.sz = MemoryLayout<bpf_prog_load_opts>.size
    options.expected_attach_type = BPF_XDP
    var functions = debug?.functions ?? []
    errno = 0
    let fd = log.withUnsafeMutableBufferPointer { logBuffer in
      if logSize > 0 {
        options.log_level = 1
        options.log_size = UInt32(logSize)
        options.log_buf = logBuffer.baseAddress
      }
      return functions.withUnsafeMutableBytes { functionBytes in
        if let debug {
          options.prog_btf_fd = UInt32(debug.descriptor.rawValue)
          options.func_info = UnsafeRawPointer(functionBytes.baseAddress)
          options.func_info_cnt = UInt32(debug.functions.count)
          options.func_info_rec_size = UInt32(MemoryLayout<bpf_func_info>.size)
        }
        return bytes.withUnsafeBytes { raw in
          bpf_prog_load(
            BPF_PROG_TYPE_XDP, name, license,
            raw.baseAddress?.assumingMemoryBound(to: bpf_insn.self),
            bytes.count / Instruction.size, &options)
        }
      }
    }
    if fd >= 0 { return .success(fd) }
    let code = errno != 0 ? errno : -fd
    let text = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return .failure(Failure(code: code, log: text))
  }

  /// Opens the loaded program with kernel id `id`.
  public static func open(id: UInt32) throws(SystemCallError) -> LoadedProgram {
    let fd = try check("open program id \(id)") { bpf_prog_get_fd_by_id(id) }
    let descriptor = KernelDescriptor(owning: fd)
    let info = try ProgramInfo(descriptor: descriptor)
    return LoadedProgram(descriptor: descriptor, name: info.name)
  }

  /// The kernel's current view of the program: id, name, run statistics.
  public func info() throws(SystemCallError) -> ProgramInfo {
    try ProgramInfo(descriptor: descriptor)
  }
}

/// What the kernel reports about a loaded program.
public struct ProgramInfo: Hashable, Sendable {
  /// The kernel's program id.
  public var id: UInt32
  /// The program's full name: its BTF function name when it was loaded
  /// with BTF (as bpftool shows it), else the kernel's 15 characters.
  public var name: String
  /// The id of the BTF it was loaded with, if any.
  public var btfID: UInt32?
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

  /// Reads `bpf_prog_info` through `bpf_obj_get_info_by_fd`.
  init(descriptor: KernelDescriptor) throws(SystemCallError) {
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    try check("read program info") { bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length) }
    let name = withUnsafeBytes(of: info.name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    let full = info.btf_id != 0 ? Self.functionName(descriptor, btfID: info.btf_id) : nil
    self.init(
      id: info.id, name: full ?? name, runCount: info.run_cnt,
      runTimeNanoseconds: info.run_time_ns)
    btfID = info.btf_id != 0 ? info.btf_id : nil
  }

  /// The BTF name of the program's first function record (bpftool's
  /// `get_prog_full_name`), or nil when it cannot be read.
  static func functionName(_ descriptor: KernelDescriptor, btfID: UInt32) -> String? {
    var record = bpf_func_info()
    var info = bpf_prog_info()
    info.nr_func_info = 1
    info.func_info_rec_size = UInt32(MemoryLayout<bpf_func_info>.size)
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    let status = withUnsafeMutablePointer(to: &record) { pointer in
      info.func_info = UInt64(UInt(bitPattern: pointer))
      return bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length)
    }
    guard status == 0, info.nr_func_info > 0,
      let btf = btf__load_from_kernel_by_id(btfID)
    else { return nil }
    defer { btf__free(btf) }
    guard let type = btf__type_by_id(btf, record.type_id),
      let name = btf__name_by_offset(btf, type.pointee.name_off)
    else { return nil }
    let text = String(cString: name)
    return text.isEmpty ? nil : text
  }
}
