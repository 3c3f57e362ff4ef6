import BPF

/// What one RX batch, or one send of gathered frames (``GatheredSends``),
/// adds to a queue's counts: packets and bytes per action and per failed
/// outcome, and the failed redirects by reason. Counted into a buffer of
/// the queue's, outside the lock: the lock then adds a dozen pairs, not a
/// subscript of ActionCounts per frame.
struct ActionTally {
  /// What became of a frame: done, gathered (counted when it is sent), or
  /// why it failed (a REDIRECT by reason).
  enum Outcome: UInt8 {
    case done, passFailed, transmitFailed
    case redirectUnsent, redirectToSocket, redirectToProcessor, redirectBroadcast
    case gathered
  }

  /// The slots: one per action (ABORTED to REDIRECT, the kernel's five),
  /// then one per failed outcome; two words each (packets, bytes).
  /// Computed constants: a stored static would be a lazily made global,
  /// checked on every batch.
  static var actionSlots: Int { Int(XDPAction.redirect.rawValue) + 1 }
  static var slots: Int { actionSlots + 6 }

  /// A buffer for ``slots`` pairs, kept by the queue (no allocation per batch).
  static func allocateBuffer() -> UnsafeMutablePointer<UInt64> {
    let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: slots * 2)
    buffer.initialize(repeating: 0, count: slots * 2)
    return buffer
  }

  private let counts: UnsafeMutablePointer<UInt64>
  /// Whether a frame failed (its outcome is counted apart).
  private(set) var failed = false
  private var errors = RedirectErrors()

  /// An empty tally in `buffer` (from ``allocateBuffer()``).
  init(over buffer: UnsafeMutablePointer<UInt64>) {
    counts = buffer
    for index in 0..<Self.slots * 2 { buffer[index] = 0 }
  }

  @inline(__always) private static func slot(_ outcome: Outcome) -> Int {
    (actionSlots + Int(outcome.rawValue) - 1) * 2
  }

  /// Counts one frame: its verdict's `action` (a REDIRECT only when its
  /// frame left) and a failed `outcome` (`errno`: why an unsent REDIRECT
  /// was refused). A gathered frame counts when it is sent.
  @inline(__always) mutating func add(
    _ action: XDPAction, bytes: UInt64, outcome: Outcome, errno: Int32 = 0
  ) {
    if outcome == .gathered { return }
    if action != .redirect || outcome == .done {
      let index = Int(action.rawValue) * 2
      counts[index] &+= 1
      counts[index + 1] &+= bytes
    }
    guard outcome != .done else { return }
    addFailure(outcome, bytes: bytes, errno: errno)
  }

  /// Counts one frame's failed `outcome` (neither done nor gathered).
  @inline(__always) private mutating func addFailure(
    _ outcome: Outcome, bytes: UInt64, errno: Int32
  ) {
    failed = true
    let index = Self.slot(outcome)
    counts[index] &+= 1
    counts[index + 1] &+= bytes
    switch outcome {
    case .redirectUnsent: errors.add(1, reason: RedirectErrors.reason(errno: errno))
    case .redirectToSocket: errors.add(1, reason: "xskmap")
    case .redirectToProcessor: errors.add(1, reason: "cpumap")
    case .redirectBroadcast: errors.add(1, reason: "broadcast")
    default: break
    }
  }

  /// Counts `packets` frames of `bytes` under `action`: a batch's verdicts
  /// counted at once, per action (``LiveFrameRunner/lastCount(_:)``).
  @inline(__always) mutating func add(_ action: XDPAction, packets: Int, bytes: UInt64) {
    let index = Int(action.rawValue) * 2
    counts[index] &+= UInt64(packets)
    counts[index + 1] &+= bytes
  }

  /// Corrects the count of one frame already counted under its verdict's
  /// `action` (by ``add(_:packets:bytes:)``) whose `outcome` is not
  /// ``Outcome/done``: as ``add(_:bytes:outcome:errno:)`` would have
  /// counted it (a gathered frame counts at its send, a failed REDIRECT
  /// only as failed).
  @inline(__always) mutating func settle(
    _ action: XDPAction, bytes: UInt64, outcome: Outcome, errno: Int32 = 0
  ) {
    guard outcome != .done else { return }
    if outcome == .gathered || action == .redirect {
      let index = Int(action.rawValue) * 2
      counts[index] &-= 1
      counts[index + 1] &-= bytes
    }
    if outcome != .gathered { addFailure(outcome, bytes: bytes, errno: errno) }
  }

  /// Adds the tally to `report`'s totals, failures and redirect errors.
  func add(to report: inout QueueReport) {
    for action in 0..<Self.actionSlots {
      let index = action * 2
      guard counts[index] > 0 else { continue }
      let action = XDPAction(rawValue: UInt32(action))!
      report.totals.actions[action].packets &+= counts[index]
      report.totals.actions[action].bytes &+= counts[index + 1]
    }
    guard failed else { return }
    if errors.total > 0 { report.redirectErrors.add(errors) }
    func add(_ count: inout ActionCount, _ outcome: Outcome) {
      let index = Self.slot(outcome)
      count.packets &+= counts[index]
      count.bytes &+= counts[index + 1]
    }
    for (outcome, reason) in [
      (Outcome.redirectUnsent, RedirectFailures.Reason.unsent),
      (.redirectToSocket, .socket), (.redirectToProcessor, .processor),
      (.redirectBroadcast, .broadcast),
    ] {
      add(&report.totals.redirectFailed, outcome)
      report.redirectFailures[reason] &+= counts[Self.slot(outcome)]
    }
    add(&report.totals.passFailed, .passFailed)
    add(&report.totals.transmitFailed, .transmitFailed)
  }
}
