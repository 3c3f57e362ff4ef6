import BPF

/// What the kernel's verifier refuses of an XDP program's accesses to its
/// context (`struct xdp_md`), found before the program runs:
///
/// - any store or atomic operation through the context pointer
///   (`xdp_is_valid_access` refuses every write: "invalid bpf_context
///   access off=0 size=4", "BPF_ATOMIC stores into R1 ctx is not allowed");
/// - any access through a context pointer moved from the record's start
///   ("dereference of modified ctx ptr R1 off=32 disallowed"), which is
///   how a program would reach another frame's record.
///
/// Values are followed as the verifier follows pointer types, over every
/// path at once (a register that is the context pointer on one path is
/// checked as one): copies, constant offsets, stack spills and fills at
/// constant offsets from the frame pointer and its copies (the verifier
/// makes a number of what is read or written at a variable offset), and
/// bpf-to-bpf calls
/// (arguments in, R0 out; a callee that writes the pointer into its
/// caller's frame leaves every slot there suspect). A pointer laundered
/// through a map or a helper's copy is not followed: the kernel turns it
/// into a number the program can no longer dereference, and the engine
/// does not depend on this check alone. The datapath takes a frame's
/// bounds from its own bookkeeping, and the address space opens only the
/// frames of the running call.
///
/// The batch form (``Form/batch``) steps its context pointer from record
/// to record: there offsets count modulo the record's stride, and the
/// trampoline's own stores to `act` and the redirect slot, which lie past
/// `struct xdp_md`, are allowed.
public enum ContextAccessCheck {
  /// `sizeof(struct xdp_md)` as the kernel has it: the fields a program may read.
  static let contextSize: Int64 = 24

  /// The first access the verifier would refuse, or nil.
  public static func firstRefusal(
    in instructions: [Instruction], form: Form = .perPacket,
    layout: XDPContextLayout = .engine
  ) -> ContextAccessRefusal? {
    var analysis = Analysis(
      instructions: instructions, stride: form == .batch ? Int64(layout.stride) : nil)
    return analysis.run()
  }
}

/// An access to the context the kernel's verifier refuses.
public struct ContextAccessRefusal: Error, Hashable, Sendable, CustomStringConvertible {
  /// The instruction.
  public var index: Int
  /// What the verifier's log says.
  public var reason: String

  /// `instruction 3: the kernel refuses this in an XDP program: …`.
  public var description: String {
    "instruction \(index): the kernel refuses this in an XDP program: \(reason)"
  }
}

/// Offsets a pointer may have: a few known ones, or any.
private enum Offsets: Hashable {
  case known(Set<Int64>)
  case any

  static func at(_ offset: Int64) -> Offsets { .known([offset]) }

  func union(_ other: Offsets) -> Offsets {
    guard case .known(let a) = self, case .known(let b) = other else { return .any }
    let all = a.union(b)
    return all.count > 8 ? .any : .known(all)
  }

  func moved(by delta: Int64, modulo stride: Int64?) -> Offsets {
    guard case .known(let values) = self else { return .any }
    return .known(Set(values.map { Offsets.normalized($0 &+ delta, stride) }))
  }

  static func normalized(_ value: Int64, _ stride: Int64?) -> Int64 {
    guard let stride else { return value }
    let remainder = value % stride
    return remainder < 0 ? remainder + stride : remainder
  }
}

/// What a register or stack slot may hold, over every path reaching it.
private struct Value: Hashable {
  /// The context pointer, at these offsets.
  var context: Offsets?
  /// A pointer into this function's own stack frame (offsets from R10).
  var stack: Offsets?
  /// A pointer into another frame's stack (an argument).
  var callerStack = false

  static let other = Value()
  static func contextPointer(_ offsets: Offsets) -> Value { Value(context: offsets) }

  var mayBeContext: Bool { context != nil }

  func union(_ other: Value) -> Value {
    Value(
      context: Self.merge(context, other.context), stack: Self.merge(stack, other.stack),
      callerStack: callerStack || other.callerStack)
  }

  private static func merge(_ a: Offsets?, _ b: Offsets?) -> Offsets? {
    guard let a else { return b }
    guard let b else { return a }
    return a.union(b)
  }

  /// The value after adding a constant.
  func moved(by delta: Int64, modulo stride: Int64?) -> Value {
    Value(
      context: context?.moved(by: delta, modulo: stride),
      stack: stack?.moved(by: delta, modulo: nil), callerStack: callerStack)
  }

  /// The value after an operation that keeps no offset (a pointer's
  /// bits stay where they may be: the engine's addresses fit 32 bits).
  var scrambled: Value {
    Value(
      context: context == nil ? nil : .any, stack: stack == nil ? nil : .any,
      callerStack: callerStack)
  }
}

/// The abstract state before one instruction.
private struct State: Hashable {
  var registers = [Value](repeating: .other, count: 11)
  /// 8-byte stack slots by offset from R10.
  var slots: [Int64: Value] = [:]

  func slot(_ key: Int64) -> Value { slots[key] ?? .other }

  func union(_ other: State) -> State {
    var merged = State()
    for index in 0..<11 { merged.registers[index] = registers[index].union(other.registers[index]) }
    for key in Set(slots.keys).union(other.slots.keys) {
      merged.slots[key] = slot(key).union(other.slot(key))
    }
    return merged
  }
}

private struct Analysis {
  let instructions: [Instruction]
  /// The record stride in the batch form; nil per packet.
  let stride: Int64?
  var states: [State?]
  /// R0 at the exits of each function, by its first instruction.
  var returns: [Int: Value] = [:]
  /// The call sites of each function, by its first instruction.
  var callers: [Int: Set<Int>] = [:]
  /// Whether a callee wrote the context pointer into its caller's frame.
  var calleeWroteContext = false
  var work: [Int] = []

  init(instructions: [Instruction], stride: Int64?) {
    self.instructions = instructions
    self.stride = stride
    states = Array(repeating: nil, count: instructions.count)
  }

  /// The functions' first instructions: 0 and every local call's target.
  private lazy var functionStarts: [Int] = {
    var starts: Set<Int> = [0]
    for (index, instruction) in instructions.enumerated() where instruction.isLocalCall {
      starts.insert(index + 1 + Int(instruction.immediate))
    }
    return starts.sorted()
  }()

  private mutating func function(of index: Int) -> Int {
    functionStarts.last { $0 <= index } ?? 0
  }

  mutating func run() -> ContextAccessRefusal? {
    // Again from the start when a callee turns out to write the pointer
    // into its caller's frame (it only ever turns on).
    while true {
      let before = calleeWroteContext
      states = Array(repeating: nil, count: instructions.count)
      returns = [:]
      var entry = State()
      entry.registers[1] = .contextPointer(.at(0))
      entry.registers[10] = Value(stack: .at(0))
      merge(entry, into: 0)
      while let index = work.popLast() {
        guard let state = states[index] else { continue }
        if let refusal = step(index, state) { return refusal }
      }
      if calleeWroteContext == before { return nil }
    }
  }

  private mutating func merge(_ state: State, into index: Int) {
    guard index >= 0, index < instructions.count else { return }
    let merged = states[index].map { $0.union(state) } ?? state
    if merged != states[index] {
      states[index] = merged
      work.append(index)
    }
  }

  private func refusal(_ index: Int, _ reason: String) -> ContextAccessRefusal {
    ContextAccessRefusal(index: index, reason: reason)
  }

  /// Follows instruction `index` from `state`; a refusal when it is one.
  private mutating func step(_ index: Int, _ input: State) -> ContextAccessRefusal? {
    let instruction = instructions[index]
    var state = input
    let dst = Int(instruction.dst.rawValue)
    let src = Int(instruction.src.rawValue)
    switch instruction.instructionClass {
    case .alu, .alu64:
      state.registers[dst] = arithmetic(instruction, state.registers[dst], state.registers[src])
    case .ld:
      if instruction.isWideImmediateLoad {
        state.registers[dst] = .other
        merge(state, into: index + 2)
        return nil
      }
      state.registers[0] = .other
    case .ldx:
      if let refused = checkDereference(index, base: src, state, store: false) { return refused }
      state.registers[dst] = load(state, base: state.registers[src], instruction)
    case .st, .stx:
      let store = instruction.accessMode != .atomic
      if let refused = checkDereference(index, base: dst, state, store: store, atomic: !store) {
        return refused
      }
      let value: Value = instruction.instructionClass == .st ? .other : state.registers[src]
      write(&state, base: state.registers[dst], value, instruction)
      if !store, AtomicOperation(rawValue: instruction.immediate)?.fetches == true {
        let loaded = load(state, base: state.registers[dst], instruction)
        let target = instruction.immediate == AtomicOperation.compareExchange.rawValue ? 0 : src
        state.registers[target] = loaded
      }
    case .jmp, .jmp32:
      return jump(index, instruction, state)
    }
    merge(state, into: index + 1)
    return nil
  }

  private mutating func jump(_ index: Int, _ instruction: Instruction, _ input: State)
    -> ContextAccessRefusal?
  {
    var state = input
    if instruction.isExit {
      let function = function(of: index)
      let previous = returns[function]
      let value = previous.map { $0.union(state.registers[0]) } ?? state.registers[0]
      if value != previous {
        returns[function] = value
        for site in callers[function] ?? [] {
          if let state = states[site] { after(call: site, state) }
        }
      }
      return nil
    }
    if instruction.isLocalCall {
      let target = index + 1 + Int(instruction.immediate)
      callers[target, default: []].insert(index)
      var entry = State()
      for register in 1...5 {
        var argument = state.registers[register]
        if argument.stack != nil {
          argument.stack = nil
          argument.callerStack = true
        }
        entry.registers[register] = argument
      }
      entry.registers[10] = Value(stack: .at(0))
      merge(entry, into: target)
      after(call: index, state)
      return nil
    }
    if instruction.isCall {
      for register in 0...5 { state.registers[register] = .other }
      merge(state, into: index + 1)
      return nil
    }
    for target in instruction.branchTargets(at: index) { merge(state, into: target) }
    return nil
  }

  /// The state after local call `site` returns: R0 as the callee's exits
  /// left it, R1-R5 clobbered, the rest as before.
  private mutating func after(call site: Int, _ input: State) {
    var state = input
    let target = site + 1 + Int(instructions[site].immediate)
    for register in 1...5 { state.registers[register] = .other }
    state.registers[0] = returns[target] ?? .other
    if calleeWroteContext {
      for key in state.slots.keys { state.slots[key]?.context = .any }
    }
    merge(state, into: site + 1)
  }

  private func arithmetic(_ instruction: Instruction, _ dst: Value, _ src: Value) -> Value {
    let register = instruction.operandSource == .register
    let immediate = Int64(instruction.immediate)
    switch instruction.arithmeticOperation {
    case .mov where instruction.offset == 0:
      return register ? src : .other
    case .add where !register: return dst.moved(by: immediate, modulo: stride)
    case .sub where !register: return dst.moved(by: -immediate, modulo: stride)
    case .add where register:
      // scalar + pointer, pointer + scalar: the pointer, offset unknown.
      return dst.union(src).scrambled
    default:
      return register ? dst.union(src).scrambled : dst.scrambled
    }
  }

  /// Checks an access through register `base`.
  private func checkDereference(
    _ index: Int, base: Int, _ state: State, store: Bool, atomic: Bool = false
  ) -> ContextAccessRefusal? {
    let pointer = state.registers[base]
    let instruction = instructions[index]
    let size = instruction.accessSize?.bytes ?? 0
    let offset = Int64(instruction.offset)
    if let context = pointer.context {
      if atomic { return refusal(index, "BPF_ATOMIC stores into R\(base) ctx is not allowed") }
      guard case .known(let offsets) = context else {
        return refusal(index, "variable ctx access var_off=(unknown) disallowed")
      }
      if let moved = offsets.sorted().first(where: { $0 != 0 }) {
        return refusal(index, "dereference of modified ctx ptr R\(base) off=\(moved) disallowed")
      }
      // The batch trampoline's own fields lie past struct xdp_md.
      if store && (stride == nil || offset < ContextAccessCheck.contextSize) {
        return refusal(index, "invalid bpf_context access off=\(offset) size=\(size)")
      }
    }
    return nil
  }

  /// The value a load through `base` yields. Only a load of 4 or 8 bytes
  /// can bring a spilled pointer back (the engine's addresses fit 32 bits).
  private func load(_ state: State, base: Value, _ instruction: Instruction) -> Value {
    var value = Value.other
    let width = instruction.accessSize?.bytes ?? 8
    if let stack = base.stack, width >= 4 {
      switch stack {
      case .known(let offsets):
        for offset in offsets {
          let address = offset + Int64(instruction.offset)
          let slot = state.slot(address & ~7)
          value = value.union(width == 8 && address & 7 == 0 ? slot : slot.scrambled)
        }
      case .any:
        // A read at a variable offset gives a number, as the verifier
        // types it (`check_stack_read_var_off`): never a pointer again.
        break
      }
    }
    return value
  }

  /// Writes `value` through `base`.
  private mutating func write(
    _ state: inout State, base: Value, _ value: Value, _ instruction: Instruction
  ) {
    let width = instruction.accessSize?.bytes ?? 8
    // Fewer than 4 bytes of a pointer are no pointer.
    let value = width >= 4 ? value : .other
    if let stack = base.stack {
      switch stack {
      case .known(let offsets) where offsets.count == 1:
        let address = offsets.first! + Int64(instruction.offset)
        let exact = width == 8 && address & 7 == 0
        state.slots[address & ~7] = exact ? value : (value.mayBeContext ? value.scrambled : .other)
      case .known(let offsets):
        for offset in offsets {
          let key = (offset + Int64(instruction.offset)) & ~7
          state.slots[key] = state.slot(key).union(value.scrambled)
        }
      case .any:
        // Written at a variable offset, a pointer is a number to the
        // verifier (`check_stack_write_var_off`): nothing to follow.
        break
      }
    }
    if value.mayBeContext && base.callerStack { calleeWroteContext = true }
  }
}
