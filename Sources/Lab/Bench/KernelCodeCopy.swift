import BPF
import Engine
import Foundation
import Kernel

/// A copy of the kernel's own JIT code of a loaded XDP program that this
/// process can call, to time it in the same kind of loop as the engine's
/// JIT (``KernelCodePair``): a like-with-like kernel figure, free of the
/// test run's loop.
///
/// The functions are copied as the kernel laid them out: each at the same
/// offset within a 64-byte line as the kernel's (`jited_ksyms`), so their
/// branches fall in the same 32- and 64-byte blocks. Every `call rel32`
/// whose target is exactly one of the program's own functions is relinked
/// to the copy, and every `jmp rel32` whose target is exactly one of the
/// kernel's return thunks (``KernelReturnThunks``) becomes `ret` and four
/// `int3`. The relinking must find exactly one return per function (the
/// x86 JIT emits one epilogue and jumps to it from every `exit`) and one
/// call per bpf-to-bpf call, or the copy is refused: the code then holds a
/// transfer it does not know. What the program may do that would reach
/// into the kernel is decided beforehand from its instructions
/// (``KernelCodeRefusal/first(in:)``).
///
/// The context is a fake `struct xdp_buff` in this process's memory with
/// `data`, `data_end`, `data_meta` and `data_hard_start` at the running
/// kernel's offsets (its BTF), the frame behind `XDP_PACKET_HEADROOM`
/// bytes, `data_meta` = `data` as the test run leaves it. A driver placed
/// a page before the code (as ``DispatchLoop``'s) calls it with RDI = the
/// context, a number of times in a row, and returns the last verdict.
public final class KernelCodeCopy {
  private let memory: ExecutableMemory
  private let context: UnsafeMutableRawPointer
  private var buffer: UnsafeMutableRawPointer
  private var capacity: Int
  private let layout: Layout

  /// The running kernel's offsets of the fake context's fields.
  struct Layout: Equatable {
    var data: Int
    var dataEnd: Int
    var dataMeta: Int
    var dataHardStart: Int

    /// The running kernel's, read once from its BTF.
    static let running = kernel()

    static func kernel() -> Layout? {
      let structure = "xdp_buff"
      guard let data = KernelStructLayout.offset(of: "data", in: structure),
        let dataEnd = KernelStructLayout.offset(of: "data_end", in: structure),
        let dataMeta = KernelStructLayout.offset(of: "data_meta", in: structure),
        let start = KernelStructLayout.offset(of: "data_hard_start", in: structure),
        [data, dataEnd, dataMeta, start].allSatisfy({ $0 + 8 <= KernelCodeCopy.contextBytes })
      else { return nil }
      return Layout(data: data, dataEnd: dataEnd, dataMeta: dataMeta, dataHardStart: start)
    }
  }

  /// Bytes of the fake context (zero past its four fields).
  static let contextBytes = 256
  /// The kernel's `XDP_PACKET_HEADROOM`.
  static let headroom = 256

  private typealias Driver = @convention(c) (UnsafeMutableRawPointer, Int) -> UInt64

  /// Copies the kernel's code of `program`, whose instructions as loaded
  /// are `instructions`.
  ///
  /// - Throws: ``KernelCodeRefusal`` when the code cannot run here.
  public init(program: LoadedProgram, instructions: [Instruction]) throws(KernelCodeRefusal) {
    if let refusal = KernelCodeRefusal.first(in: instructions) { throw refusal }
    guard let layout = Layout.running else { throw .noContextLayout }
    // A file the kernel does not have (no such mitigation) states nothing.
    if let retbleed = try? String(contentsOfFile: KernelCodeRefusal.retbleedPath, encoding: .utf8),
      KernelCodeRefusal.tracksCallDepth(retbleed: retbleed)
    {
      throw .callDepthTracking
    }
    let functions: [KernelFunctionCode]
    do {
      functions = try program.machineFunctions()
    } catch {
      throw .notCompiled
    }
    guard !functions.isEmpty, functions.allSatisfy({ $0.address != 0 }) else {
      throw .notCompiled
    }
    let calls = instructions.count(where: \.isLocalCall)
    let (image, entry) = try Self.relinked(
      functions, thunks: KernelReturnThunks.addresses(), calls: calls)
    let code = Self.driver(entry: entry) + image
    do {
      memory = try ExecutableMemory(code)
    } catch {
      throw .memory("\(error)")
    }
    self.layout = layout
    context = UnsafeMutableRawPointer.allocate(byteCount: Self.contextBytes, alignment: 64)
    context.initializeMemory(as: UInt8.self, repeating: 0, count: Self.contextBytes)
    capacity = Self.headroom + 4096
    buffer = Self.zeroed(capacity)
  }

  private static func zeroed(_ bytes: Int) -> UnsafeMutableRawPointer {
    let pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    pointer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    return pointer
  }

  deinit {
    context.deallocate()
    buffer.deallocate()
  }

  /// The functions laid out from a page boundary on, relinked, and where
  /// the main function starts in the result.
  static func relinked(
    _ functions: [KernelFunctionCode], thunks: [UInt64: String], calls expected: Int
  ) throws(KernelCodeRefusal) -> (image: [UInt8], entry: Int) {
    guard !thunks.isEmpty else { throw .unlinked("the kernel's return thunks are not listed") }
    var image: [UInt8] = []
    var offsets: [Int] = []
    for function in functions {
      let line = Int(function.address % 64)
      while image.count % 64 != line { image.append(0xcc) }  // int3
      offsets.append(image.count)
      image += function.bytes
    }
    let starts = Dictionary(
      functions.enumerated().map { ($0.element.address, $0.offset) },
      uniquingKeysWith: { a, _ in a })
    var calls = 0
    for (index, function) in functions.enumerated() {
      var returns = 0
      var position = 0
      let bytes = function.bytes
      while position + 5 <= bytes.count {
        let opcode = bytes[position]
        guard opcode == 0xe8 || opcode == 0xe9 else {
          position += 1
          continue
        }
        let displacement = bytes[position + 1..<position + 5].enumerated().reduce(UInt32(0)) {
          $0 | UInt32($1.element) << (8 * $1.offset)
        }
        let target =
          function.address &+ UInt64(position + 5)
          &+ UInt64(bitPattern: Int64(Int32(bitPattern: displacement)))
        let at = offsets[index] + position
        if opcode == 0xe8, let callee = starts[target] {
          let distance = UInt32(bitPattern: Int32(offsets[callee] - (at + 5)))
          for k in 0..<4 { image[at + 1 + k] = UInt8(truncatingIfNeeded: distance >> (8 * k)) }
          calls += 1
          position += 5
        } else if opcode == 0xe9, thunks[target] != nil {
          image.replaceSubrange(at..<at + 5, with: [0xc3, 0xcc, 0xcc, 0xcc, 0xcc])
          returns += 1
          position += 5
        } else {
          position += 1
        }
      }
      guard returns == 1 else {
        throw .unlinked("function \(index) has \(returns) jumps to a return thunk, not 1")
      }
    }
    guard calls == expected else {
      throw .unlinked(
        "\(calls) calls reach the program's functions, its instructions make \(expected)")
    }
    return (image, offsets[0])
  }

  /// The driver, `driver(context, count) -> rax`, for code a page after
  /// its start: RBX = calls left, R12 = the context; three pushes keep
  /// the stack 16-byte aligned at each call, as ``DispatchLoop``'s five.
  static func driver(entry: Int) -> [UInt8] {
    var bytes: [UInt8] = [
      0x53, 0x41, 0x54, 0x41, 0x55,  // push rbx, r12, r13
      0x49, 0x89, 0xfc,  // mov r12, rdi
      0x48, 0x89, 0xf3,  // mov rbx, rsi
      0x31, 0xc0,  // xor eax, eax
      0x48, 0x85, 0xdb,  // loop (13): test rbx, rbx
      0x74, 0x0e,  // jz done
      0x4c, 0x89, 0xe7,  // mov rdi, r12
      0xe8, 0, 0, 0, 0,  // call code (21)
      0x48, 0x83, 0xeb, 0x01,  // sub rbx, 1
      0xeb, 0xed,  // jmp loop
      0x41, 0x5d, 0x41, 0x5c, 0x5b,  // done (32): pop r13, r12, rbx
      0xc3,  // ret
    ]
    let distance = UInt32(DispatchLoop.codeAlignment + entry - 26)
    for k in 0..<4 { bytes[22 + k] = UInt8(truncatingIfNeeded: distance >> (8 * k)) }
    while bytes.count < DispatchLoop.codeAlignment { bytes.append(0xcc) }
    return bytes
  }

  /// Stages `frame` behind the headroom and sets the context's pointers
  /// to it (a program that writes its frame leaves it changed; staging
  /// again restores it, as a new test run does).
  public func stage(_ frame: [UInt8]) {
    let length = frame.count
    if Self.headroom + length > capacity {
      buffer.deallocate()
      capacity = Self.headroom + length
      buffer = Self.zeroed(capacity)
    }
    let data = buffer + Self.headroom
    frame.withUnsafeBytes { raw in
      if let base = raw.baseAddress { data.copyMemory(from: base, byteCount: length) }
    }
    func store(_ pointer: UnsafeMutableRawPointer, at offset: Int) {
      context.storeBytes(of: UInt(bitPattern: pointer), toByteOffset: offset, as: UInt.self)
    }
    store(buffer, at: layout.dataHardStart)
    store(data, at: layout.data)
    store(data, at: layout.dataMeta)
    store(data + length, at: layout.dataEnd)
  }

  /// Calls the code `count` times in a row on the staged frame; the last
  /// call's return value.
  @discardableResult
  public func call(times count: Int) -> UInt64 {
    let driver = unsafeBitCast(memory.base, to: Driver.self)
    return driver(context, count)
  }

  /// The staged frame's bytes as the code left them.
  public var frame: [UInt8] {
    let start = context.load(fromByteOffset: layout.data, as: UInt.self)
    let end = context.load(fromByteOffset: layout.dataEnd, as: UInt.self)
    guard let pointer = UnsafeRawPointer(bitPattern: start), end >= start else { return [] }
    return Array(UnsafeRawBufferPointer(start: pointer, count: Int(end - start)))
  }

  /// The verdict of one call on `frame`, and the frame as it left it.
  public func run(_ frame: [UInt8]) -> (verdict: UInt32, frame: [UInt8]) {
    stage(frame)
    let verdict = UInt32(truncatingIfNeeded: call(times: 1))
    return (verdict, self.frame)
  }
}
