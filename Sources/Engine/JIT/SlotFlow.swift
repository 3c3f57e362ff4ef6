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
}
