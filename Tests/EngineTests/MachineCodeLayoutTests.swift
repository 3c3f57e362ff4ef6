import BPF
import Testing

@testable import Engine

/// How the JIT lays its code out: memory operands with a one-byte
/// displacement where it fits, loop heads at a 32-byte boundary, and the
/// exit of frame 0 without a reload of RSP. Each is a matter of time, not
/// of results, so each test also runs the code against the interpreter.
@Suite struct MachineCodeLayoutTests {
  /// The bytes `emit` assembles.
  static func bytes(_ emit: (inout X86Assembler) -> Void) -> [UInt8] {
    var a = X86Assembler()
    emit(&a)
    return a.finish() ?? []
  }

  /// Encodings as `llvm-mc -show-encoding` gives them, but for a zero
  /// displacement, which keeps its byte (`[r11 + 0]` is `43 00`).
  @Test func aDisplacementThatFitsASignedByteTakesOne() {
    let cases: [([UInt8], [UInt8])] = [
      (Self.bytes { $0.load(.rax, .r11, 0) }, [0x49, 0x8b, 0x43, 0x00]),
      (Self.bytes { $0.load(.rax, .r11, 127) }, [0x49, 0x8b, 0x43, 0x7f]),
      (Self.bytes { $0.load(.rax, .r11, 128) }, [0x49, 0x8b, 0x83, 0x80, 0x00, 0x00, 0x00]),
      (Self.bytes { $0.load(.rax, .r11, -128) }, [0x49, 0x8b, 0x43, 0x80]),
      (Self.bytes { $0.load(.rax, .r11, -129) }, [0x49, 0x8b, 0x83, 0x7f, 0xff, 0xff, 0xff]),
      // R12 as the base needs a SIB byte; RBP and R13 a displacement.
      (Self.bytes { $0.load(.rsp, .r12, 0x38) }, [0x49, 0x8b, 0x64, 0x24, 0x38]),
      (Self.bytes { $0.load(.rax, .rbp, 0) }, [0x48, 0x8b, 0x45, 0x00]),
      (Self.bytes { $0.load(.rax, .r13, 0) }, [0x49, 0x8b, 0x45, 0x00]),
      (
        Self.bytes {
          $0.memoryForm([0x8b], wide: false, reg: 6, base: .r11, index: .rdi, displacement: 4)
        }, [0x41, 0x8b, 0x74, 0x3b, 0x04]
      ),
      (
        Self.bytes {
          $0.memoryForm([0x8b], wide: false, reg: 6, base: .r11, index: .rdi, displacement: 0x200)
        }, [0x41, 0x8b, 0xb4, 0x3b, 0x00, 0x02, 0x00, 0x00]
      ),
    ]
    for (assembled, expected) in cases {
      #expect(assembled == expected)
    }
  }

  /// Padding is made of whole no-ops (the recommended forms, at most 9
  /// bytes each) and ends at the boundary.
  @Test func paddingEndsAtTheBoundaryInWholeNoOperations() {
    for start in 0..<40 {
      let code = Self.bytes { a in
        for _ in 0..<start { a.emit(0xcc) }
        a.align(to: 32)
      }
      #expect(code.count % 32 == 0 && code.count >= start && code.count - start < 32)
      var position = start
      while position < code.count {
        let size = Self.noOperationSize(at: position, in: code)
        #expect(size != nil, "padding from \(start): no no-op at \(position)")
        position += size ?? code.count
      }
    }
  }

  /// The size of the recommended no-op at `position`, if one is there.
  static func noOperationSize(at position: Int, in code: [UInt8]) -> Int? {
    let forms: [[UInt8]] = [
      [0x90], [0x66, 0x90], [0x0f, 0x1f, 0x00], [0x0f, 0x1f, 0x40, 0x00],
      [0x0f, 0x1f, 0x44, 0x00, 0x00], [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
      [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
      [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
      [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]
    return forms.first {
      position + $0.count <= code.count
        && Array(code[position..<(position + $0.count)]) == $0
    }?.count
  }

  /// A counting loop (its back-edge is a jump to its head after the
  /// budget check) and what it computes.
  static let loop: [Instruction] = [
    .move(.r0, immediate: 0), .move(.r1, immediate: 1000), .move(.r3, immediate: 7),
    .add(.r0, immediate: 3), .arithmetic(.xor, .r0, .r3), .arithmetic(.sub, .r1, immediate: 1),
    Instruction(opcode: Opcode.jump(.jne, .immediate), dst: .r1, offset: -4), .exit,
  ]

  /// The back-edges' targets in `code`: each `jmp rel32` right after the
  /// budget check (`cmp r9, [r12 + budget]; jae rel32`).
  static func backEdgeTargets(_ code: [UInt8]) -> [Int] {
    let check: [UInt8] = [0x4d, 0x3b, 0x4c, 0x24, UInt8(JITContext.budget), 0x0f, 0x83]
    return code.starts(of: check).filter { $0 + 16 <= code.count && code[$0 + 11] == 0xe9 }.map {
      code.relativeTarget(field: $0 + 12)
    }
  }

  @Test func aLoopsHeadStartsA32ByteBlock() throws {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let code = try machine.nativeCode(for: machine.prepare(instructions: Self.loop)).bytes
    let targets = Self.backEdgeTargets(code)
    #expect(!targets.isEmpty)
    for target in targets {
      #expect(target % 32 == 0, "loop head at \(target)")
    }
    // 1000 rounds of r0 = (r0 + 3) ^ 7.
    var r0: UInt64 = 0
    for _ in 0..<1000 { r0 = (r0 + 3) ^ 7 }
    try JITTests.expectAlike(Self.loop, outcome: "R0 = \(r0)")
  }

  /// `mov rsp, [r12 + savedStack]`: the epilogue's reload of RSP.
  static let stackReload: [UInt8] = [0x49, 0x8b, 0x64, 0x24, UInt8(JITContext.savedStack)]

  /// A program whose frame-0 exit follows `ret` at once: the bytes from
  /// the exit's jump target to the first `ret` hold no reload of RSP; the
  /// reloading epilogue is still in the code, for faults and tail calls
  /// (which `FrameDepthTests` and `NativeTailCallTests` run).
  @Test func frameZerosExitLeavesWithoutReloadingTheStackPointer() throws {
    let machine = try Machine(configuration: MachineConfiguration(engine: .jit))
    let code = try machine.nativeCode(
      for: machine.prepare(instructions: [.move(.r0, immediate: 2), .exit])
    ).bytes
    // mov eax, 2, then the exit: jmp rel32 to the frame's exit.
    let move: [UInt8] = [0xb8, 0x02, 0x00, 0x00, 0x00]
    let start = try #require(code.starts(of: move).first)
    let jump = try #require(code[(start + 5)...].firstIndex(of: 0xe9))
    let exit = code.relativeTarget(field: jump + 1)
    let ret = try #require(code[exit...].firstIndex(of: 0xc3))
    #expect(Array(code[exit..<ret]).starts(of: Self.stackReload).isEmpty)
    // The reloading epilogues are still there, for faults and tail calls.
    #expect(!code.starts(of: Self.stackReload).isEmpty)
    try JITTests.expectAlike([.move(.r0, immediate: 2), .exit], outcome: "R0 = 2")
  }
}
