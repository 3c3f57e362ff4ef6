import BPF

/// Which form each RX batch of a queue runs in while the queue measures
/// both forms on the same traffic.
///
/// After the datapath starts and after every swap, a queue runs its RX
/// batches alternately in the form chosen and in the other one, until each
/// has run ``batchesPerForm`` batches (or ``longest`` has passed with both
/// measured): every frame still runs exactly once, through one form, on
/// the one machine and maps of the queue, so the two figures come from the
/// same datapath, engine and traffic. Outside a window every batch runs in
/// the chosen form. A program without a batch form has no window.
struct ComparisonWindow {
  /// Batches each form runs in a window.
  static let batchesPerForm = 256
  /// Nanoseconds after which a window closes once both forms ran.
  static let longest: UInt64 = 10_000_000_000

  /// The swap the current (or last) window followed; -1 before the first.
  private var generation = -1
  private var opened: UInt64 = 0
  private var perPacketBatches = 0
  private var batchBatches = 0
  private var isOpen = false
  /// Whether the next batch runs in the form chosen (the window alternates).
  private var chosenNext = true

  /// The form the next RX batch runs in, given the form chosen and the
  /// datapath's swap count; `opens` is true when this batch starts a new
  /// window (the queue then starts its comparison afresh), `measures` when
  /// it belongs to one.
  mutating func form(
    chosen: Form, swaps: Int, batchAvailable: Bool, now: UInt64
  ) -> (form: Form, opens: Bool, measures: Bool) {
    guard batchAvailable else { return (.perPacket, false, false) }
    var opens = false
    if swaps != generation {
      generation = swaps
      opened = now
      perPacketBatches = 0
      batchBatches = 0
      isOpen = true
      chosenNext = true
      opens = true
    }
    guard isOpen else { return (chosen, false, false) }
    let form = chosenNext ? chosen : chosen.other
    chosenNext.toggle()
    if form == .batch { batchBatches += 1 } else { perPacketBatches += 1 }
    let both = min(perPacketBatches, batchBatches)
    if both >= Self.batchesPerForm || (both > 0 && now &- opened >= Self.longest) {
      isOpen = false
    }
    return (form, opens, true)
  }
}

extension Form {
  /// The form that is not this one.
  var other: Form { self == .batch ? .perPacket : .batch }
}
