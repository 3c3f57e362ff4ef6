/// SplitMix64: a small seeded generator, so that every run of a randomized
/// test sees the same inputs and a failure can be replayed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  /// The generator's state; the seed.
  public var state: UInt64

  /// Starts from `state`.
  public init(state: UInt64) { self.state = state }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}
