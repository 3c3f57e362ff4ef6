import BPF

extension BatchBound {
  /// How many 8-byte stack slots the loop keeps.
  var slotCount: Int { self == .immediate ? 2 : 3 }
}
