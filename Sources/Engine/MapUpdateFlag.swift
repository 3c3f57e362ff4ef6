/// Flags of `map_update_elem` beyond the command (`BPF_ANY`, `BPF_NOEXIST`,
/// `BPF_EXIST`).
enum MapUpdateFlag {
  /// `BPF_F_LOCK`: update under the value's spin lock (refused: the engine
  /// has no spin locks).
  static let lock: UInt64 = 4
}
