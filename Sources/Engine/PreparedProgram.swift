import BPF

/// A program decoded once into the engine's compact form: one 16-byte slot
/// per instruction, jump targets absolute, map references resolved to this
/// machine's maps, and a trap slot after the end. Made by
/// ``Machine/prepare(_:)``; valid only with the machine that made it.
public final class PreparedProgram {
  /// The program's name (from ``Program/name``).
  public let name: String
  /// Number of instruction slots (without the trailing trap).
  public let count: Int
  /// Whether the program calls `bpf_tail_call`.
  public let usesTailCalls: Bool
  /// The most instruction slots a program may have: the kernel's
  /// `BPF_COMPLEXITY_LIMIT_INSNS`, what `BPF_PROG_LOAD` accepts from root.
  public static let instructionLimit = 1_000_000
  let slots: UnsafeMutablePointer<Slot>
  /// The JIT's code for this program, compiled on its first JIT run.
  var compiled: CompiledProgram?
  /// Its code without the frame proof, for tail calls taken deeper than
  /// frame 0, compiled on the first such call (``FrameDepths``).
  var compiledBelowFrameZero: CompiledProgram?
  /// The entry of ``compiled`` (a plain function pointer: reading it
  /// retains nothing).
  var entry: CompiledProgram.Entry?
  /// Why the JIT could not compile it (the interpreter runs it instead).
  var compileFailure: JITError?

  init(name: String, slots: [Slot], usesTailCalls: Bool) {
    self.name = name
    self.count = slots.count - 1
    self.usesTailCalls = usesTailCalls
    self.slots = .allocate(capacity: slots.count)
    self.slots.initialize(from: slots, count: slots.count)
  }

  deinit { slots.deallocate() }
}

/// What the decoder needs to know about the machine it prepares for.
struct PreparationContext {
  /// What the kernel's verifier refuses in the program (nil: nothing, or
  /// not an XDP program).
  var refusal: ([Instruction]) -> VerifierRefusal?
  /// Whether a helper id is implemented.
  var knowsHelper: (Int32) -> Bool
  /// The handle a program holds for map `index`, if it exists.
  var mapHandle: (Int) -> UInt64?
  /// The address and size of map `index`'s first value, if it has one
  /// (an array: global data).
  var mapValue: (Int) -> (address: UInt64, size: UInt32)?
}

extension PreparedProgram {
  /// Checks and decodes `instructions`.
  static func decode(
    _ instructions: [Instruction], name: String, context: PreparationContext
  ) throws(PreparationError) -> PreparedProgram {
    guard !instructions.isEmpty else { throw .emptyProgram }
    // bpf(2) refuses longer programs with E2BIG; every slot index then
    // fits the 32-bit targets the decoder and the JIT use.
    guard instructions.count <= PreparedProgram.instructionLimit else {
      throw .tooManyInstructions(count: instructions.count, limit: PreparedProgram.instructionLimit)
    }
    do {
      try InstructionValidator().validate(instructions)
    } catch {
      throw .invalidInstruction(error)
    }
    if let refusal = context.refusal(instructions) { throw .refusedByVerifier(refusal) }
    var slots: [Slot] = []
    slots.reserveCapacity(instructions.count + 1)
    var tailCalls = false
    var index = 0
    while index < instructions.count {
      let instruction = instructions[index]
      if instruction.isWideImmediateLoad {
        slots.append(try wideLoad(instruction, instructions[index + 1], index, context))
        slots.append(Slot(.trap, offset: Int32(index + 1)))
        index += 2
        continue
      }
      let slot = try decode(instruction, at: index, context: context)
      if slot.operation == .tailCall { tailCalls = true }
      slots.append(slot)
      index += 1
    }
    slots.append(Slot(.trap, offset: Int32(instructions.count)))
    return PreparedProgram(name: name, slots: slots, usesTailCalls: tailCalls)
  }

  private static func wideLoad(
    _ first: Instruction, _ second: Instruction, _ index: Int, _ context: PreparationContext
  ) throws(PreparationError) -> Slot {
    guard first.dst != .r10 else { throw .frameRegisterWrite(index: index) }
    let value: UInt64
    switch first.src.rawValue {
    case ImmediateLoadKind.value.rawValue:
      value =
        UInt64(UInt32(bitPattern: first.immediate))
        | UInt64(UInt32(bitPattern: second.immediate)) << 32
    case ImmediateLoadKind.mapByIndex.rawValue:
      guard let handle = context.mapHandle(Int(first.immediate)) else {
        throw .unknownMap(index: index, map: Int(first.immediate))
      }
      value = handle
    case ImmediateLoadKind.mapValueByIndex.rawValue:
      guard let map = context.mapValue(Int(first.immediate)) else {
        throw .unknownMap(index: index, map: Int(first.immediate))
      }
      // The verifier reads the offset as a u32 inside the value.
      let offset = UInt32(bitPattern: second.immediate)
      guard offset < map.size else {
        throw .refusedByVerifier(
          VerifierRefusal(
            index: index,
            reason: "invalid access to map value pointer, value_size=\(map.size) off=\(offset)"))
      }
      value = map.address + UInt64(offset)
    default:
      throw .unsupportedImmediateLoad(index: index, kind: first.src.rawValue)
    }
    return Slot(.loadImmediate64, dst: first.dst.rawValue, immediate: Int64(bitPattern: value))
  }

  private static func decode(
    _ instruction: Instruction, at index: Int, context: PreparationContext
  ) throws(PreparationError) -> Slot {
    let dst = instruction.dst.rawValue
    let src = instruction.src.rawValue
    let immediate = Int64(instruction.immediate)
    let offset = Int32(instruction.offset)
    func invalid(_ field: String, _ value: Int64) -> PreparationError {
      .invalidInstruction(.invalidField(index: index, field: field, value: value))
    }
    func make(_ operation: Operation) -> Slot {
      Slot(operation, dst: dst, src: src, offset: offset, immediate: immediate)
    }
    switch instruction.instructionClass {
    case .alu, .alu64:
      guard dst != 10 else { throw .frameRegisterWrite(index: index) }
      guard let operation = try OperationTable.arithmetic(instruction) else {
        throw invalid(
          instruction.opcode & 0xf0 == 0xd0 ? "byte swap width" : "offset",
          instruction.opcode & 0xf0 == 0xd0 ? immediate : Int64(offset))
      }
      return make(operation)
    case .jmp, .jmp32:
      if instruction.isExit { return make(.exit) }
      if instruction.opcode == Opcode.callRegister {
        return Slot(.callRegister, dst: dst, offset: Int32(index))
      }
      if instruction.isCall {
        switch src {
        case CallKind.helper.rawValue:
          guard context.knowsHelper(instruction.immediate) else {
            throw .unknownHelper(index: index, helper: instruction.immediate)
          }
          let isTailCall = instruction.immediate == HelperFunction.tailCall.rawValue
          return Slot(
            isTailCall ? .tailCall : .callHelper, offset: Int32(index), immediate: immediate)
        case CallKind.local.rawValue:
          return Slot(.callLocal, offset: Int32(index + 1) + instruction.immediate)
        default:
          throw .unsupportedCall(index: index, kind: src)
        }
      }
      let target = Int32(index + 1 + (instruction.branchDistance ?? 0))
      let operation = OperationTable.jump(instruction)
      return Slot(operation, dst: dst, src: src, offset: target, immediate: immediate)
    case .ldx:
      guard dst != 10 else { throw .frameRegisterWrite(index: index) }
      return make(OperationTable.load(instruction.opcode))
    case .st, .stx:
      if instruction.accessMode == .atomic {
        guard let operation = OperationTable.atomic(instruction) else {
          throw invalid("atomic operation", immediate)
        }
        if AtomicOperation(rawValue: instruction.immediate)?.fetches == true, src == 10,
          operation != .atomicCompareExchange32, operation != .atomicCompareExchange64
        {
          throw .frameRegisterWrite(index: index)
        }
        return make(operation)
      }
      return make(OperationTable.store(instruction.opcode))
    case .ld:
      return make(OperationTable.packetLoad(instruction.opcode))
    }
  }
}
