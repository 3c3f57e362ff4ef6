/// A ratio of two forms measured in many interleaved rounds, one ratio a
/// round (the two forms timed back to back, so each round's pair ran at
/// the same CPU speed), summarised by its median and quartiles.
///
/// Why: this VM's vCPU switches between two speeds for tenths of a second
/// at a time (about 3.7 GHz and the 2.6 GHz base clock, as a pure ALU loop
/// of known cycle count shows), and code with memory accesses slows more
/// than plain arithmetic in the slow periods. A ratio of two figures each
/// kept from its own fastest round can pair a fast-period figure with a
/// slow-period one; the median of per-round ratios cannot, and a
/// few rounds caught by a switch or by other work move it little.
/// The quartiles say how far the rounds spread (`bench --json` key
/// `*_rounds`: `median`, `low_quartile`, `high_quartile`, `rounds`).
public struct RoundRatios: Encodable, Sendable, Equatable {
  /// The median of the rounds' ratios.
  public var median: Double
  /// The ratio a quarter of the rounds are below.
  public var lowQuartile: Double
  /// The ratio a quarter of the rounds are above.
  public var highQuartile: Double
  /// Rounds measured.
  public var rounds: Int

  /// Summarises `ratios`, one per round; nil when there are none or one
  /// is not a finite positive number (a form that took no time).
  public init?(_ ratios: [Double]) {
    guard ratios.allSatisfy({ $0 > 0 }), let spread = RoundSpread(ratios) else { return nil }
    median = spread.median
    lowQuartile = spread.lowQuartile
    highQuartile = spread.highQuartile
    rounds = spread.rounds
  }

  /// Per round, `numerators[i] / denominators[i]`.
  public init?(_ numerators: [Double], over denominators: [Double]) {
    guard numerators.count == denominators.count else { return nil }
    self.init(zip(numerators, denominators).map { $0 / $1 })
  }

  /// The `q` quantile of sorted values, interpolated between neighbours.
  static func quantile(_ sorted: [Double], _ q: Double) -> Double {
    let position = q * Double(sorted.count - 1)
    let below = Int(position.rounded(.down))
    let above = min(below + 1, sorted.count - 1)
    let fraction = position - Double(below)
    return sorted[below] + (sorted[above] - sorted[below]) * fraction
  }

}

/// Times several forms of one measurement in interleaved rounds: every
/// round runs each form `tries` times, the forms taking turns (in an
/// order reversed every other round, so no form always runs first), and
/// keeps each form's fastest try. A round lasts a few milliseconds, well
/// inside one of the CPU's speed periods, so a form's best try is what it
/// costs at the speed its neighbours in the round ran at; the fastest try
/// leaves out a try that another process preempted.
enum InterleavedRounds {
  /// For each form, its best try in every round after one that warms up:
  /// `result[form][round]`. `time(form)` runs a form once and returns what
  /// it cost (in any unit, the same for every form).
  static func measure(
    forms: Int, rounds: Int, tries: Int = 3, time: (Int) throws -> Double
  ) rethrows -> [[Double]] {
    var best = [[Double]](repeating: [], count: forms)
    for round in 0...rounds {
      var roundBest = [Double](repeating: .infinity, count: forms)
      for _ in 0..<max(tries, 1) {
        for form in round % 2 == 0 ? Array(0..<forms) : (0..<forms).reversed() {
          roundBest[form] = min(roundBest[form], try time(form))
        }
      }
      guard round > 0 else { continue }  // round 0 warms up
      for form in 0..<forms { best[form].append(roundBest[form]) }
    }
    return best
  }
}
