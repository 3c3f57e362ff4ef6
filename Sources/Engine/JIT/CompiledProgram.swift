/// A program's machine code: the executable pages and where its body
/// starts (tail calls jump there, past the prologue). Owned by its
/// ``PreparedProgram``, so it lives as long as a run holds the program.
final class CompiledProgram {
  /// The pages.
  let memory: ExecutableMemory
  /// Offset of the body in the pages.
  let bodyOffset: Int
  /// The code's bytes (position-independent: internal jumps are relative,
  /// callbacks absolute), handed out as ``NativeCode``.
  let bytes: [UInt8]
  /// Whether the code relies on the compile-time proof of call depth,
  /// which holds only for runs of its body from frame 0 (``FrameDepths``).
  let framesProven: Bool

  /// The C signature of the code: the context block, R1 and R2 in, R0
  /// out (R1 in a register, as the kernel's dispatcher hands over the
  /// context: no store and reload on the path to the first access).
  typealias Entry = @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64) -> UInt64

  init(memory: ExecutableMemory, bodyOffset: Int, bytes: [UInt8], framesProven: Bool) {
    self.framesProven = framesProven
    self.memory = memory
    self.bytes = bytes
    self.bodyOffset = bodyOffset
  }

  /// The function to call.
  var entry: Entry { unsafeBitCast(memory.base, to: Entry.self) }
  /// The address of the body.
  var body: UnsafeRawPointer { memory.base + bodyOffset }
  /// Bytes of machine code mapped.
  var size: Int { memory.length }
}
