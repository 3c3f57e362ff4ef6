import BPF

extension BatchBound {
  /// How many 8-byte stack slots the loop keeps: the kernel's convention
  /// returns no record count, so it keeps no total.
  func slotCount(_ convention: BatchConvention) -> Int {
    if self == .immediate { return 2 }
    return convention == .engine ? 3 : 2
  }
}
