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
/// - `capacity_over_matched`, `paced_capacity_over_matched`,
///   `unpaced_capacity_over_matched`: the same for xdp_prog1 and
///   xdp_classify_prog against the bare loop that does the program's work
///   without the engine (`read-headers`: the header bytes xdp1 reads,
///   counted by protocol; `mix-sends`: xdp_classify's decisions, ring work
///   and gathered PASS and REDIRECT sends), each with the datapath's
///   prefetch: what the engine and the datapath around it cost over the
///   same work done natively. The issue's goals name the bare recycle
///   loop; these are the like-with-like figures beside them.
/// - `references`: per goal key, the bare loop each program is compared
///   with there (`{"capacity_over_bare": {"xdp_prog1": "recycle", ...}}`).
public struct DatapathGoals: Encodable, Sendable, Equatable {
  public var goalFramesPerBatch: Int?
  public var capacityOverBare: [String: Double] = [:]
  public var pacedCapacityOverBare: [String: [String: Double]] = [:]
  public var unpacedCapacityOverBare: [String: Double] = [:]
  public var rateOverBare: [String: Double] = [:]
  public var generatorBound: [String] = []
  public var capacityOverMatched: [String: Double] = [:]
  public var pacedCapacityOverMatched: [String: [String: Double]] = [:]
  public var unpacedCapacityOverMatched: [String: Double] = [:]
  public var references: [String: [String: String]] = [:]

  /// The ratios of `rows` (software rows only).
  public init(rows: [DatapathBenchRow]) {
    for row in rows where row.kind == "software" {
      let key = Self.key(row)
      if let program = row.program {
        if let reference = row.reference {
          references["capacity_over_bare", default: [:]][program] = reference
        }
        if let matched = row.matchedReference {
          references["capacity_over_matched", default: [:]][program] = matched
        }
      }
      if let matched = row.matchedCapacityRatio {
        if let frames = row.pacedFrames {
          pacedCapacityOverMatched[String(frames), default: [:]][key] = matched
        } else {
          unpacedCapacityOverMatched[key] = matched
        }
      }
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
      capacityOverMatched = pacedCapacityOverMatched[String(goal)] ?? [:]
    } else {
      capacityOverMatched = unpacedCapacityOverMatched
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
