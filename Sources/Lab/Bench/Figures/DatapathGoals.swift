/// Issue 22's software-datapath figures as ratios of one run (`bench
/// --json`, `"datapath"` → `"goals"`), per software row, keyed
/// `PROGRAM FORM` with ` grouped` and ` interpreter` where they apply
/// (e.g. `xdp_classify_prog batch grouped`).
///
/// - `capacity_over_bare`: the bare loop's ns per frame over the
///   datapath's, both the span from frames found on the RX ring to their
///   release and both measured in the same run, the reference right
///   before the row and paced alike, at `goal_frames_per_batch` frames an
///   RX batch (the largest paced size measured: 64 by default, NAPI's
///   budget, what a loaded interface hands its driver) (goals: xdp_prog1
///   and xdp_tx at least 0.9 of the recycle and send-back loops,
///   xdp_classify_prog at least 0.8 of the mix loop).
/// - `paced_capacity_over_bare`: the same at every paced size, keyed by
///   the frames per batch (`"1"`, `"8"`, `"32"`, `"64"`).
/// - `unpaced_capacity_over_bare`: the same for the unpaced rows, which
///   take a batch as soon as a frame is there (one to three frames a
///   batch on veth: what an idle interface gives).
/// - `rate_over_bare`: frames acted on per second over the bare loop's,
///   only for unpaced rows the receiver limited (the veth ring dropped
///   frames): with the generator the limit, both rates are the generator's.
/// - `generator_bound`: the unpaced rows left out of `rate_over_bare`.
public struct DatapathGoals: Encodable, Sendable, Equatable {
  public var goalFramesPerBatch: Int?
  public var capacityOverBare: [String: Double] = [:]
  public var pacedCapacityOverBare: [String: [String: Double]] = [:]
  public var unpacedCapacityOverBare: [String: Double] = [:]
  public var rateOverBare: [String: Double] = [:]
  public var generatorBound: [String] = []

  /// The ratios of `rows` (software rows only).
  public init(rows: [DatapathBenchRow]) {
    for row in rows where row.kind == "software" {
      let key = Self.key(row)
      if let frames = row.pacedFrames {
        if let capacity = row.capacityRatio {
          pacedCapacityOverBare[String(frames), default: [:]][key] = capacity
        }
        continue
      }
      if let capacity = row.capacityRatio { unpacedCapacityOverBare[key] = capacity }
      if row.generatorBound {
        generatorBound.append(key)
      } else if let ratio = row.ratio {
        rateOverBare[key] = ratio
      }
    }
    goalFramesPerBatch = rows.compactMap(\.pacedFrames).max()
    if let goal = goalFramesPerBatch {
      capacityOverBare = pacedCapacityOverBare[String(goal)] ?? [:]
    } else {
      // No paced rows: the unpaced figures are all there is.
      capacityOverBare = unpacedCapacityOverBare
    }
  }

  /// `PROGRAM FORM[ grouped][ ENGINE]`, the engine only when not the JIT.
  static func key(_ row: DatapathBenchRow) -> String {
    var key = "\(row.program ?? "") \(row.form)"
    if row.groupActions == true { key += " grouped" }
    if let engine = row.engine, engine != "jit" { key += " \(engine)" }
    return key
  }
}
