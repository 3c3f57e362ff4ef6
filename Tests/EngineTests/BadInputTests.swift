import BPF
import Engine
import TestSupport
import Testing

@Suite("Bad programs are refused or stopped with a clear error")
struct BadInputTests {
  func prepareError(_ instructions: [Instruction]) -> PreparationError? {
    do {
      let machine = try Machine()
      _ = try machine.prepare(instructions: instructions)
      return nil
    } catch let error as PreparationError {
      return error
    } catch {
      return nil
    }
  }

  func runError(_ instructions: [Instruction], budget: Int = 1_000_000) -> ExecutionError? {
    do {
      _ = try run(instructions, configuration: MachineConfiguration(instructionBudget: budget))
      return nil
    } catch let error as ExecutionError {
      return error
    } catch {
      return nil
    }
  }

  @Test func jumpOutOfRange() {
    let error = prepareError([.jump(offset: 5), .exit])
    #expect(error == .invalidInstruction(.jumpOutOfRange(index: 0, target: 6)))
    #expect(error?.description.contains("instruction 0") == true)
  }

  @Test func jumpIntoWideLoad() {
    let program = [.jump(offset: 1)] + Instruction.loadImmediate64(.r0, 7) + [.exit]
    #expect(prepareError(program) == .invalidInstruction(.jumpOutOfRange(index: 0, target: 2)))
  }

  @Test func unknownOpcodeNeverTraps() {
    let error = prepareError([Instruction(opcode: 0xff), .exit])
    #expect(error == .invalidInstruction(.unknownOpcode(index: 0, opcode: 0xff)))
  }

  @Test func writeToFramePointer() {
    #expect(
      prepareError([.move(.r0, immediate: 0), .move(.r10, immediate: 1), .exit])
        == .frameRegisterWrite(index: 1))
    #expect(
      prepareError([.load(.word, .r10, from: .r1, offset: 0), .exit])
        == .frameRegisterWrite(index: 0))
  }

  @Test func programsLongerThanTheKernelLoadsAreRefused() {
    let long = [Instruction](repeating: .move(.r0, immediate: 0), count: 1_000_000) + [.exit]
    #expect(prepareError(long) == .tooManyInstructions(count: 1_000_001, limit: 1_000_000))
    #expect(prepareError(Array(long.suffix(1_000_000))) == nil)
  }

  @Test func unknownHelper() {
    let error = prepareError([.call(helper: 9999), .exit])
    #expect(error == .unknownHelper(index: 0, helper: 9999))
    #expect(error?.description.contains("9999") == true)
  }

  @Test func stackOutsideFrame() {
    let below = runError([.store(.doubleWord, .r1, to: .r10, offset: -520), .exit])
    #expect(below == .memoryFault(index: 0, address: below.map(address) ?? 0, size: 8, write: true))
    let above = runError([
      .move(.r0, immediate: 0), .load(.doubleWord, .r0, from: .r10, offset: 0), .exit,
    ])
    if case .memoryFault(let index, _, let size, let write) = above {
      #expect(index == 1 && size == 8 && !write)
    } else {
      Issue.record("expected a memory fault, got \(String(describing: above))")
    }
    // The whole 512-byte frame is usable.
    #expect(runError([.store(.doubleWord, .r1, to: .r10, offset: -512), .exit]) == nil)
  }

  func address(_ error: ExecutionError) -> UInt64 {
    if case .memoryFault(_, let address, _, _) = error { return address }
    return 0
  }

  @Test func nullIsNeverMapped() {
    let error = runError([.move(.r1, immediate: 0), .load(.word, .r0, from: .r1, offset: 0), .exit])
    #expect(error == .memoryFault(index: 1, address: 0, size: 4, write: false))
    #expect(error?.description.contains("0x0") == true)
  }

  @Test func infiniteLoop() {
    let error = runError([.move(.r0, immediate: 0), .jump(offset: -1), .exit], budget: 10_000)
    #expect(error == .instructionBudgetExceeded(index: 1, budget: 10_000))
  }

  @Test func recursionPastDepthEight() {
    // f: call f (forever).
    let error = runError([.call(local: 1), .exit, .call(local: -1), .exit])
    #expect(error == .callDepthExceeded(index: 2, limit: 8))
  }

  @Test func sevenNestedCallsAreAllowed() throws {
    // main -> f(6) -> f(5) ... -> f(0): seven calls, eight frames with main.
    let program: [Instruction] = [
      .move(.r1, immediate: 6), .call(local: 1), .exit,
      .move(.r0, immediate: 42),
      .jump(.jeq, .r1, immediate: 0, offset: 2),
      .add(.r1, immediate: -1),
      .call(local: -4),
      .exit,
    ]
    #expect(try run(program) == 42)
    let tooDeep = [Instruction.move(.r1, immediate: 7)] + program.dropFirst()
    #expect(runError(Array(tooDeep)) == .callDepthExceeded(index: 6, limit: 8))
  }

  @Test func fallingOffTheEnd() {
    #expect(
      prepareError([.move(.r0, immediate: 1)]) == .invalidInstruction(.fallsOffEnd(index: 0)))
  }

  @Test func emptyProgram() {
    #expect(prepareError([]) == .emptyProgram)
  }

  @Test("thousands of random and mutated programs never crash the engine")
  func fuzz() throws {
    var random = SeededRandom(state: 2024)
    let seeds = ConformanceVector.all.map(\.program)
    var prepared = 0
    var refused = 0
    for round in 0..<6000 {
      var bytes: [UInt8]
      if round % 2 == 0 || seeds.isEmpty {
        bytes = (0..<(8 * Int.random(in: 1...24, using: &random))).map { _ in
          UInt8.random(in: 0...255, using: &random)
        }
        // Bias towards real opcodes so that more programs get past preparation.
        for slot in stride(from: 0, to: bytes.count, by: 8) where Bool.random(using: &random) {
          bytes[slot] =
            [0x07, 0x0f, 0x61, 0x63, 0x7b, 0x85, 0x95, 0xb7, 0x15, 0x05, 0xdb][
              Int.random(in: 0..<11, using: &random)]
          bytes[slot + 1] &= 0x9a
        }
      } else {
        bytes = seeds[Int.random(in: 0..<seeds.count, using: &random)]
        for _ in 0..<Int.random(in: 1...4, using: &random) {
          bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(
            in: 0...255, using: &random)
        }
      }
      let instructions = try Instruction.decode(littleEndian: bytes)
      let machine = try Machine(
        configuration: MachineConfiguration(instructionBudget: 5_000, conformanceHelpers: true))
      let memory = try machine.addressSpace.map(length: 64, name: "memory")
      do {
        let program = try machine.prepare(instructions: instructions)
        prepared += 1
        do {
          _ = try machine.run(program, r1: UInt64(memory.start), r2: 64)
        } catch {
          #expect(error.description.hasPrefix("instruction "))
        }
      } catch {
        refused += 1
        #expect(!error.description.isEmpty)
      }
    }
    #expect(prepared + refused == 6000)
    #expect(prepared > 300)
  }
}
