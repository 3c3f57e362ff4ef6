import BPF
import Testing

@testable import Engine

/// The JIT dispatches on what ``Operation`` says of itself: every case
/// has one family, and the jump and division forms name exactly the
/// operations of those families, both ways.
@Suite struct OperationFormsTests {
  static let all: [Operation] = (0...UInt8.max).compactMap(Operation.init(rawValue:))

  @Test func jumpsAreJaAndTheConditionalJumps() {
    let jumps = Self.all.filter { $0.family == .jump }
    #expect(jumps.count == 1 + JumpTest.allCases.count * OperandForm.all.count)
    for operation in jumps where operation != .ja {
      let form = operation.conditionalJump
      #expect(form != nil, "\(operation)")
      if let (test, operands) = form { #expect(test.operation(operands) == operation) }
    }
    #expect(Operation.ja.conditionalJump == nil)
    #expect(Self.all.filter { $0.conditionalJump != nil }.allSatisfy { $0.family == .jump })
  }

  @Test func divisionsAreArithmetic() {
    let divisions = Self.all.filter { $0.division != nil }
    #expect(divisions.count == DivisionKind.allCases.count * OperandForm.all.count)
    #expect(divisions.allSatisfy { $0.family == .arithmetic })
    for operation in divisions {
      let (kind, operands) = operation.division!
      #expect(kind.operation(operands) == operation)
    }
    #expect(
      Operation.sdiv32X.division! == (.signedDivide, OperandForm(wide: false, register: true)))
    #expect(Operation.mod64K.division! == (.modulo, OperandForm(wide: true, register: false)))
  }

  @Test func storesHaveTheirSizeAndAtomicsTheirWidth() {
    for operation in Self.all {
      #expect((operation.storeSize != nil) == (operation.family == .store), "\(operation)")
      if operation.isWideAtomic { #expect(operation.family == .atomic) }
    }
    #expect(Operation.storeImmediateHalf.storeSize == 2)
    #expect(Operation.storeDouble.storeSize == 8)
    #expect(Self.all.filter(\.isWideAtomic).count == 10)
    #expect(Self.all.filter { $0.family == .atomic }.count == 20)
  }

  /// The decoder picks its operations through the same forms.
  @Test func decodedJumpsRoundTrip() {
    let encodings: [(UInt8, JumpTest)] = [
      (0x10, .equal), (0x20, .greater), (0x30, .greaterOrEqual), (0x40, .anyBitSet),
      (0x50, .notEqual), (0x60, .signedGreater), (0x70, .signedGreaterOrEqual), (0xa0, .less),
      (0xb0, .lessOrEqual), (0xc0, .signedLess), (0xd0, .signedLessOrEqual),
    ]
    for (code, test) in encodings {
      for (jumpClass, wide) in [(UInt8(0x05), true), (0x06, false)] {
        for (source, register) in [(UInt8(0x00), false), (0x08, true)] {
          let instruction = Instruction(opcode: code | source | jumpClass, offset: 1)
          let operation = OperationTable.jump(instruction)
          let form = operation.conditionalJump
          #expect(
            form?.test == test && form?.operands == OperandForm(wide: wide, register: register))
        }
      }
    }
  }
}
