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
  ///
  /// `flags` are `BPF_PROG_LOAD`'s `prog_flags` (`BPF_F_XDP_BATCH` for a
  /// batch program: ``BPF/KernelBatchInterface/loadFlag``); `type` is XDP
  /// unless said otherwise.
  public static func load(
    name: String, instructions: [Instruction], license: String = "GPL", btf: KernelBTF? = nil,
    flags: UInt32 = 0, type: ProgramType = .xdp
  ) throws(LoadError) -> LoadedProgram {
    let bytes = Instruction.encode(instructions)
    let kernelName = String(name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
    let debug = btf.flatMap(DebugInfo.init)
    if case .success(let fd) = attempt(kernelName, type, bytes, license, debug, flags, logSize: 0) {
      return LoadedProgram(descriptor: KernelDescriptor(owning: fd), name: name)
    }
    var logSize = 1 << 20
    while true {
      switch attempt(kernelName, type, bytes, license, debug, flags, logSize: logSize) {
      case .success(let fd):
        // Loaded on the second try (a transient failure): keep it.
        return LoadedProgram(descriptor: KernelDescriptor(owning: fd), name: name)
      case .failure(let failure) where failure.code == .noSpace && logSize < 1 << 26:
        logSize <<= 2
      case .failure(let failure):
        let log = VerifierLog(failure.log)
        if failure.log.isEmpty || failure.code == .notPermitted {
          throw .kernel(
            program: name, SystemCallError("load program \"\(name)\"", errno: failure.code))
        }
        throw .rejected(
          program: name, instruction: log.rejectedInstruction,
          reason: log.lastLines(log.lines.count),
          errno: failure.code)
      }
    }
  }

  private struct Failure: Error {
    var code: Errno
    var log: String
  }

  /// A loaded BTF object and the function records that point into it.
  final class DebugInfo: @unchecked Sendable {
    let descriptor: KernelDescriptor
    var functions: [bpf_func_info]

    /// Loads `btf` into the kernel; nil when the kernel refuses it.
    init?(_ btf: KernelBTF) {
      let fd = ZeroedStorage.options(bpf_btf_load_opts.self) { options in
        btf.bytes.withUnsafeBytes { raw in bpf_btf_load(raw.baseAddress, raw.count, options) }
      }
      guard fd >= 0 else { return nil }
      descriptor = KernelDescriptor(owning: fd)
      functions = btf.functions.map {
        bpf_func_info(insn_off: UInt32($0.instruction), type_id: $0.typeID)
      }
    }
  }

  private static func attempt(
    _ name: String, _ type: ProgramType, _ bytes: [UInt8], _ license: String,
    _ debug: DebugInfo?, _ flags: UInt32, logSize: Int
  ) -> Result<Int32, Failure> {
    var log = [CChar](repeating: 0, count: max(logSize, 1))
    var functions = debug?.functions ?? []
    errno = 0
    let fd = ZeroedStorage.options(bpf_prog_load_opts.self) { options in
      options.pointee.expected_attach_type = type.expectedAttachType
      options.pointee.prog_flags = flags
      return log.withUnsafeMutableBufferPointer { logBuffer in
        if logSize > 0 {
          options.pointee.log_level = 1
          options.pointee.log_size = UInt32(logSize)
          options.pointee.log_buf = logBuffer.baseAddress
        }
        return functions.withUnsafeMutableBytes { functionBytes in
          if let debug {
            options.pointee.prog_btf_fd = UInt32(debug.descriptor.rawValue)
            options.pointee.func_info = UnsafeRawPointer(functionBytes.baseAddress)
            options.pointee.func_info_cnt = UInt32(debug.functions.count)
            options.pointee.func_info_rec_size = UInt32(MemoryLayout<bpf_func_info>.size)
          }
          return bytes.withUnsafeBytes { raw in
            bpf_prog_load(
              type.kernelType, name, license,
              raw.baseAddress?.assumingMemoryBound(to: bpf_insn.self),
              bytes.count / Instruction.size, options)
          }
        }
      }
    }
    if fd >= 0 { return .success(fd) }
    let code = Errno(errno != 0 ? errno : -fd)
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

  /// Opens the program pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> LoadedProgram {
    let fd = try check("open pinned program \(path)") { bpf_obj_get(path) }
    let descriptor = KernelDescriptor(owning: fd)
    let info = try ProgramInfo(descriptor: descriptor)
    return LoadedProgram(descriptor: descriptor, name: info.name)
  }

  /// Pins the program at `path` on a bpf filesystem: it stays loaded
  /// until the pin is removed, whatever happens to this process.
  public func pin(at path: String) throws(SystemCallError) {
    try check("pin program \"\(name)\" at \(path)") { bpf_obj_pin(descriptor.rawValue, path) }
  }

  /// The kernel's current view of the program: id, name, run statistics.
  public func info() throws(SystemCallError) -> ProgramInfo {
    try ProgramInfo(descriptor: descriptor)
  }

  /// The ids of the maps the program uses, in the kernel's order.
  public func mapIDs() throws(SystemCallError) -> [UInt32] {
    let counted = try ObjectInfo.read(bpf_prog_info.self, of: descriptor, "read program info")
    guard counted.nr_map_ids > 0 else { return [] }
    let ids = ZeroedStorage.allocate(UInt32.self, count: Int(counted.nr_map_ids))
    defer { ids.deallocate() }
    let info = try ObjectInfo.read(
      bpf_prog_info.self, of: descriptor, "read the map ids of program \(counted.id)"
    ) { request in
      request.pointee.nr_map_ids = UInt32(ids.count)
      request.pointee.map_ids = UInt64(UInt(bitPattern: ids.baseAddress))
    }
    return Array(ids.prefix(Int(info.nr_map_ids)))
  }

  /// The program's functions by the index of their first translated
  /// instruction, named by its BTF function records (the entry at 0, each
  /// bpf-to-bpf callee after it); empty without BTF.
  public func functionNames() throws(SystemCallError) -> [Int: String] {
    let counted = try ObjectInfo.read(bpf_prog_info.self, of: descriptor, "read program info")
    guard counted.btf_id != 0, counted.nr_func_info > 0 else { return [:] }
    let records = ZeroedStorage.allocate(bpf_func_info.self, count: Int(counted.nr_func_info))
    defer { records.deallocate() }
    let info = try ObjectInfo.read(
      bpf_prog_info.self, of: descriptor, "read the function records of program \(counted.id)"
    ) { request in
      request.pointee.nr_func_info = UInt32(records.count)
      request.pointee.func_info_rec_size = UInt32(MemoryLayout<bpf_func_info>.size)
      request.pointee.func_info = UInt64(UInt(bitPattern: records.baseAddress))
    }
    var names: [Int: String] = [:]
    for record in records.prefix(Int(info.nr_func_info)) {
      if let name = KernelBTFObject.typeName(btfID: counted.btf_id, typeID: record.type_id) {
        names[Int(record.insn_off)] = name
      }
    }
    return names
  }

  /// The maps the program uses, open; a map that went away since the
  /// program was read is left out.
  public func maps() throws(SystemCallError) -> [KernelMap] {
    var maps: [KernelMap] = []
    for id in try mapIDs() {
      do {
        maps.append(try KernelMap.open(id: id))
      } catch  where error.errno == .notFound {
        continue
      }
    }
    return maps
  }

  /// The kernel's translated instructions (8 bytes each), as `bpftool prog
  /// dump xlated` reads them; empty when the kernel does not show them
  /// (it needs CAP_SYS_ADMIN).
  public func translatedCode() throws(SystemCallError) -> [UInt8] {
    try code(jited: false)
  }

  /// The JIT-compiled machine code; empty when the program is interpreted.
  public func machineCode() throws(SystemCallError) -> [UInt8] {
    try code(jited: true)
  }

  private func code(jited: Bool) throws(SystemCallError) -> [UInt8] {
    let sizes = try ObjectInfo.read(bpf_prog_info.self, of: descriptor, "read program info")
    let size = Int(jited ? sizes.jited_prog_len : sizes.xlated_prog_len)
    guard size > 0 else { return [] }
    let bytes = ZeroedStorage.allocate(UInt8.self, count: size)
    defer { bytes.deallocate() }
    _ = try ObjectInfo.read(
      bpf_prog_info.self, of: descriptor,
      "read the \(jited ? "JIT-compiled" : "translated") code of program \(sizes.id)"
    ) { request in
      let address = UInt64(UInt(bitPattern: bytes.baseAddress))
      if jited {
        request.pointee.jited_prog_len = UInt32(size)
        request.pointee.jited_prog_insns = address
      } else {
        request.pointee.xlated_prog_len = UInt32(size)
        request.pointee.xlated_prog_insns = address
      }
    }
    return Array(bytes)
  }
}
