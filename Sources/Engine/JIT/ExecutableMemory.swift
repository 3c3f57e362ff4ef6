import Glibc

/// Machine code in pages of its own, mapped read+execute and never
/// writable and executable at once (W^X): the bytes are written while the
/// pages are read+write, then `mprotect` turns them read+execute. The
/// pages are unmapped when the last owner lets go. The JIT's own code
/// lives in these, and so does machine code that calls it directly
/// (``NativeCode``). The pages start on a 2 MiB boundary
/// (``AlignedMapping``).
public final class ExecutableMemory {
  /// The first byte of the code.
  public let base: UnsafeRawPointer
  /// Bytes mapped (a whole number of pages).
  public let length: Int

  /// Maps `code` executable.
  ///
  /// - Throws: ``JITError/memory(_:)`` when `mmap` or `mprotect` fails.
  public init(_ code: [UInt8]) throws(JITError) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let length = max(page, (code.count + page - 1) / page * page)
    guard
      let mapped = AlignedMapping.map(bytes: length, protection: PROT_READ | PROT_WRITE)
    else { throw .memory("mmap of \(length) bytes failed with errno \(errno)") }
    code.withUnsafeBytes { mapped.copyMemory(from: $0.baseAddress!, byteCount: code.count) }
    guard mprotect(mapped, length, PROT_READ | PROT_EXEC) == 0 else {
      let code = errno
      munmap(mapped, length)
      throw .memory("mprotect(PROT_READ|PROT_EXEC) failed with errno \(code)")
    }
    base = UnsafeRawPointer(mapped)
    self.length = length
  }

  deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }
}

/// Why the JIT could not compile a program (the engine then falls back to
/// the interpreter and says why).
public enum JITError: Error, Equatable, Sendable, CustomStringConvertible {
  /// This machine is not x86-64.
  case unsupportedArchitecture
  /// Executable memory could not be mapped.
  case memory(String)
  /// The emitted code referenced a label that was never bound (a JIT bug).
  case unresolvedLabel(program: String)

  /// A one-line reason.
  public var description: String {
    switch self {
    case .unsupportedArchitecture: "the JIT emits x86-64 only"
    case .memory(let reason): "executable memory: \(reason)"
    case .unresolvedLabel(let program): "program \(program): internal JIT error (unbound label)"
    }
  }
}
