/// The values ``MapAccessRules`` follows: what a register or a stack slot
/// may hold (a map's handle, a pointer into a map's value or the frame, a
/// constant), joined over every path.

/// A few known offsets, or any.
enum ValueOffsets: Hashable {
  case known(Set<Int64>)
  case any

  func union(_ other: ValueOffsets) -> ValueOffsets {
    guard case .known(let a) = self, case .known(let b) = other else { return .any }
    let all = a.union(b)
    return all.count > 8 ? .any : .known(all)
  }

  func moved(by delta: Int64?) -> ValueOffsets {
    guard let delta, case .known(let values) = self else { return .any }
    return .known(Set(values.map { $0 &+ delta }))
  }

  /// The offset a message names: the smallest known one, else 0.
  var first: Int64 {
    guard case .known(let values) = self else { return 0 }
    return values.min() ?? 0
  }
}

/// What a register or stack slot may hold, over every path reaching it.
struct MapValueFacts: Hashable {
  /// Maps (by index) whose handle it may be.
  var handles: Set<Int> = []
  /// Maps (by index) into whose value it may point, at these offsets.
  var values: [Int: ValueOffsets] = [:]
  /// A pointer into this function's own frame, at these offsets from R10.
  var stack: ValueOffsets?
  /// A constant it holds on every path (a helper's size argument).
  var constant: Int64?
  /// The `map_lookup_elem` calls (by instruction) whose result it may be
  /// on some path before a null check (the verifier's
  /// `map_value_or_null`): no access or arithmetic through it loads.
  var unchecked: Set<Int> = []

  static let unknown = MapValueFacts()

  var isPointer: Bool { !handles.isEmpty || !values.isEmpty || stack != nil }

  func union(_ other: MapValueFacts) -> MapValueFacts {
    var merged = MapValueFacts(handles: handles.union(other.handles))
    merged.values = values.merging(other.values) { $0.union($1) }
    merged.stack = stack.map { other.stack.map($0.union) ?? $0 } ?? other.stack
    merged.constant = constant == other.constant ? constant : nil
    merged.unchecked = unchecked.union(other.unchecked)
    return merged
  }

  /// The facts after adding `delta` (nil: an unknown number).
  func moved(by delta: Int64?) -> MapValueFacts {
    var moved = self
    moved.values = values.mapValues { $0.moved(by: delta) }
    moved.stack = stack?.moved(by: delta)
    moved.constant = delta.flatMap { d in constant.map { $0 &+ d } }
    return moved
  }

  /// The pointers it may be, at unknown offsets; no constant, and not
  /// `map_value_or_null` (part of a pointer is a number to the verifier).
  var scrambled: MapValueFacts {
    MapValueFacts(
      handles: handles, values: values.mapValues { _ in .any }, stack: stack.map { _ in .any })
  }
}

/// The abstract state before one instruction.
struct MapValueState: Hashable {
  /// R0 - R10, and R11 - R15, which the instruction's 4-bit fields can
  /// name in input not yet validated (`rewrite` checks the maps first):
  /// they hold nothing, and nothing traps.
  var registers = [MapValueFacts](repeating: .unknown, count: 16)
  /// 8-byte stack slots by offset from R10.
  var slots: [Int64: MapValueFacts] = [:]

  func union(_ other: MapValueState) -> MapValueState {
    var merged = MapValueState()
    for index in registers.indices {
      merged.registers[index] = registers[index].union(other.registers[index])
    }
    for key in Set(slots.keys).union(other.slots.keys) {
      merged.slots[key] = (slots[key] ?? .unknown).union(other.slots[key] ?? .unknown)
    }
    return merged
  }

  /// The state on one side of a null check of the lookups `results`:
  /// every register and spill holding one of them (the verifier's
  /// `mark_ptr_or_null_regs`, by the pointer's id) is the value itself
  /// (`null` false) or, where it is null, a number.
  func checked(_ results: Set<Int>, null: Bool) -> MapValueState {
    func mark(_ facts: MapValueFacts) -> MapValueFacts {
      guard !facts.unchecked.isDisjoint(with: results) else { return facts }
      if null { return .unknown }
      var marked = facts
      marked.unchecked.subtract(results)
      return marked
    }
    var state = self
    state.registers = registers.map(mark)
    state.slots = slots.mapValues(mark)
    return state
  }
}
