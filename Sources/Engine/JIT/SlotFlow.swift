/// A forward data-flow pass over prepared slots, to a fixed point: the
/// solver ``StackPointers`` and ``PacketRanges`` share.
enum SlotFlow {
  /// The state before each slot (nil: no path reaches it). The pass
  /// starts from `entries`; `transfer(index, state)` gives the states
  /// slot `index` hands to its successors, by slot index; where
  /// states meet, `meet` combines them, and a slot whose state changed is
  /// visited again.
  static func solve<State: Equatable>(
    count: Int, entries: [(slot: Int, state: State)], meet: (State, State) -> State,
    transfer: (_ index: Int, _ state: State) -> [(slot: Int, state: State)]
  ) -> [State?] {
    var before = [State?](repeating: nil, count: count)
    var work: [Int] = []
    func reach(_ target: Int, _ state: State) {
      guard target >= 0, target < count else { return }
      guard let old = before[target] else {
        before[target] = state
        work.append(target)
        return
      }
      let met = meet(old, state)
      if met != old {
        before[target] = met
        work.append(target)
      }
    }
    for entry in entries { reach(entry.slot, entry.state) }
    while let index = work.popLast() {
      guard let state = before[index] else { continue }
      for successor in transfer(index, state) { reach(successor.slot, successor.state) }
    }
    return before
  }

  /// Facts about R0-R9 (nil: none), from the program's entry and every
  /// subprogram's entry, which know nothing; a fact holds where every
  /// path agrees on it. `transfer(index, slot, next, state, reach)` hands
  /// each successor its state through `reach`; `next` is the slot after
  /// `slot` (ld_imm64 takes two).
  static func solveRegisters<Fact: Equatable>(
    slots: UnsafeMutablePointer<Slot>, count: Int,
    transfer: (
      _ index: Int, _ slot: Slot, _ next: Int, _ state: [Fact?], _ reach: (Int, [Fact?]) -> Void
    ) -> Void
  ) -> [[Fact?]?] {
    let unknown = [Fact?](repeating: nil, count: 10)
    let entries =
      [(slot: 0, state: unknown)]
      + (0..<count).filter { slots[$0].operation == .callLocal }.map {
        (slot: Int(slots[$0].offset), state: unknown)
      }
    return solve(
      count: count, entries: entries,
      meet: { old, new in zip(old, new).map { $0 == $1 ? $0 : nil } }
    ) { index, state in
      var successors: [(slot: Int, state: [Fact?])] = []
      let slot = slots[index]
      let next = index + (slot.operation == .loadImmediate64 ? 2 : 1)
      transfer(index, slot, next, state) { successors.append(($0, $1)) }
      return successors
    }
  }
}
