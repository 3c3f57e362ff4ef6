import CBPF

/// One function of a loaded program as the kernel's JIT compiled it: the
/// address the kernel runs it at (`jited_ksyms`) and its machine code
/// (its share of `jited_prog_insns`, `jited_func_lens` long). A program
/// without bpf-to-bpf calls has one; the main program comes first, then
/// each subprogram in the order of its first instruction.
public struct KernelFunctionCode: Sendable, Equatable {
  /// Where the kernel runs the function (its `bpf_func`).
  public var address: UInt64
  /// Its machine code.
  public var bytes: [UInt8]

  /// Describes a function.
  public init(address: UInt64, bytes: [UInt8]) {
    self.address = address
    self.bytes = bytes
  }
}

extension LoadedProgram {
  /// The JIT-compiled code of each of the program's functions, with the
  /// address the kernel runs it at; empty when the program is
  /// interpreted. The addresses read as zero without `CAP_SYSLOG`
  /// (`kptr_restrict`), as in `/proc/kallsyms`.
  public func machineFunctions() throws(SystemCallError) -> [KernelFunctionCode] {
    let sizes = try ObjectInfo.read(bpf_prog_info.self, of: descriptor, "read program info")
    let size = Int(sizes.jited_prog_len)
    let count = Int(sizes.nr_jited_ksyms)
    guard size > 0, count > 0, Int(sizes.nr_jited_func_lens) == count else { return [] }
    let bytes = ZeroedStorage.allocate(UInt8.self, count: size)
    let symbols = ZeroedStorage.allocate(UInt64.self, count: count)
    let lengths = ZeroedStorage.allocate(UInt32.self, count: count)
    defer {
      bytes.deallocate()
      symbols.deallocate()
      lengths.deallocate()
    }
    let info = try ObjectInfo.read(
      bpf_prog_info.self, of: descriptor, "read the JIT-compiled functions of program \(sizes.id)"
    ) { request in
      request.pointee.jited_prog_len = UInt32(size)
      request.pointee.jited_prog_insns = UInt64(UInt(bitPattern: bytes.baseAddress))
      request.pointee.nr_jited_ksyms = UInt32(count)
      request.pointee.jited_ksyms = UInt64(UInt(bitPattern: symbols.baseAddress))
      request.pointee.nr_jited_func_lens = UInt32(count)
      request.pointee.jited_func_lens = UInt64(UInt(bitPattern: lengths.baseAddress))
    }
    guard Int(info.jited_prog_len) == size, Int(info.nr_jited_ksyms) == count,
      lengths.reduce(0, { $0 + Int($1) }) == size
    else { return [] }
    var start = 0
    return (0..<count).map { index in
      let length = Int(lengths[index])
      defer { start += length }
      return KernelFunctionCode(
        address: symbols[index], bytes: Array(bytes[start..<start + length]))
    }
  }
}

/// The kernel's return thunks (`/proc/kallsyms`): with `X86_FEATURE_RETHUNK`
/// (retbleed, SRSO, ITS mitigations) the x86 JIT ends each function with
/// `jmp x86_return_thunk` instead of `ret`, and the thunk in use is one of
/// these, chosen at boot.
public enum KernelReturnThunks {
  /// The thunks `x86_return_thunk` may point at (arch/x86/lib/retpoline.S,
  /// arch/x86/kernel/cpu/bugs.c).
  public static let names: Set<String> = [
    "__x86_return_thunk", "its_return_thunk", "srso_return_thunk", "srso_alias_return_thunk",
    "retbleed_return_thunk", "call_depth_return_thunk", "entry_untrain_ret",
  ]

  /// Their addresses on the running kernel, by address; empty when
  /// `/proc/kallsyms` is unreadable or hides addresses (``KernelSymbols``).
  public static func addresses(path: String = "/proc/kallsyms") -> [UInt64: String] {
    guard let symbols = KernelSymbols.load(path: path) else { return [:] }
    return Dictionary(
      names.compactMap { name in symbols.address(of: name).map { ($0, name) } },
      uniquingKeysWith: { first, _ in first })
  }
}
