import BPF
import Engine
import Kernel

/// One queue's PASS and REDIRECT frames, gathered across RX batches and
/// sent together: one `sendmmsg` into the TAP for the PASS frames and one
/// per target interface for the REDIRECT frames (``PassQueue``,
/// ``RedirectPorts``), when the oldest has waited ``latency`` or a batch
/// would not fit (``isDue(now:)``), or when the RX ring stayed empty that
/// long (``QueueWorker``). At one or two frames an RX batch, a send per
/// batch cost several times the program (xdp_classify's `path ns`).
///
/// A gathered frame's UMEM frame stays off the fill ring until it is sent;
/// its counts wait for the send too (a REDIRECT counts once its frame left).
public final class GatheredSends {
  /// Frames gathered at most: two RX batches' worth, so one more batch
  /// always fits before a send.
  static let capacity = 2 * LiveFrameRunner.maximumBatch
  /// The longest a gathered frame waits for its send, by default.
  public static var defaultLatency: UInt64 { DatapathConfiguration.defaultSendLatency }

  /// The PASS frames' device, shared by the datapath's queues.
  let pass: PassDevice
  let passing: PassQueue
  let ports: RedirectPorts
  /// Nanoseconds the oldest gathered frame may wait.
  let latency: UInt64

  /// Per gathered frame, in the order gathered: its UMEM frame, verdict,
  /// length, the form that ran it and whether its batch was a comparison
  /// window's, then what became of it.
  public let chunks: UnsafeMutablePointer<UInt64>
  let actions: UnsafeMutablePointer<XDPAction>
  let lengths: UnsafeMutablePointer<UInt32>
  let forms: UnsafeMutablePointer<Form>
  let measured: UnsafeMutablePointer<Bool>
  let outcomes: UnsafeMutablePointer<ActionTally.Outcome>
  let sendErrors: UnsafeMutablePointer<Int32>
  /// Frames gathered and not sent yet.
  public var count: Int { gathered }
  /// The storage of ``count``: internal, so that the per-frame path's
  /// reads and writes need no run-time exclusivity check (a public class
  /// property costs a call into the runtime on each access, eight for a
  /// gathered frame).
  var gathered = 0
  /// When the oldest of them was taken off the RX ring.
  private(set) var since: UInt64 = 0

  /// Sends into `pass`; frames wait at most `latency` nanoseconds.
  init(pass: PassDevice, latency: UInt64 = GatheredSends.defaultLatency) {
    self.pass = pass
    passing = PassQueue(device: pass, capacity: Self.capacity)
    ports = RedirectPorts(capacity: Self.capacity)
    self.latency = latency
    chunks = .allocate(capacity: Self.capacity)
    actions = .allocate(capacity: Self.capacity)
    lengths = .allocate(capacity: Self.capacity)
    forms = .allocate(capacity: Self.capacity)
    measured = .allocate(capacity: Self.capacity)
    outcomes = .allocate(capacity: Self.capacity)
    sendErrors = .allocate(capacity: Self.capacity)
    sendErrors.initialize(repeating: 0, count: Self.capacity)
  }

  deinit {
    chunks.deallocate()
    actions.deallocate()
    lengths.deallocate()
    forms.deallocate()
    measured.deallocate()
    outcomes.deallocate()
    sendErrors.deallocate()
  }

  /// Whether the gathered frames must go now, after an RX batch taken at
  /// `now`: the oldest waited ``latency``, or the next batch might not fit.
  @inline(__always) public func isDue(now: UInt64) -> Bool {
    gathered > 0
      && (gathered > Self.capacity - LiveFrameRunner.maximumBatch || now &- since >= latency)
  }

  /// Nanoseconds from `now` until the oldest frame is due (0 when it is).
  @inline(__always) public func remaining(now: UInt64) -> UInt64 {
    let due = since &+ latency
    return due > now ? due &- now : 0
  }

  /// Gathers a PASS frame of UMEM frame `chunk` (its bytes stay valid
  /// until ``send()``); false when it cannot go (shorter than an Ethernet
  /// header).
  @inline(__always) public func gatherPass(
    _ frame: UnsafeMutableRawPointer, length: UInt32, chunk: UInt64, form: Form,
    measured: Bool, now: UInt64
  ) -> Bool {
    guard passing.enqueue(slot: gathered, frame: frame, length: Int(length)) else { return false }
    record(.pass, length: length, chunk: chunk, form: form, measured: measured, now: now)
    return true
  }

  /// Gathers a REDIRECT to interface `index`, as ``gatherPass``.
  @inline(__always) public func gatherRedirect(
    _ frame: UnsafeMutableRawPointer, length: UInt32, toInterface index: UInt32, chunk: UInt64,
    form: Form, measured: Bool, now: UInt64
  ) -> Bool {
    guard ports.enqueue(slot: gathered, frame: frame, length: Int(length), toInterface: index)
    else { return false }
    record(.redirect, length: length, chunk: chunk, form: form, measured: measured, now: now)
    return true
  }

  @inline(__always) private func record(
    _ action: XDPAction, length: UInt32, chunk: UInt64, form: Form, measured: Bool,
    now: UInt64
  ) {
    if gathered == 0 { since = now }
    chunks[gathered] = chunk
    actions[gathered] = action
    lengths[gathered] = length
    forms[gathered] = form
    self.measured[gathered] = measured
    // A REDIRECT is done once its frame left.
    outcomes[gathered] = action == .redirect ? .redirectUnsent : .done
    gathered += 1
  }

  /// Sends every gathered frame (the REDIRECT frames first, then PASS) and
  /// leaves what became of each in ``outcomes``; ``clear()`` after reading.
  public func send() {
    let outcomes = self.outcomes
    let sendErrors = self.sendErrors
    ports.flush { slot, error in
      if error == 0 { outcomes[slot] = .done } else { sendErrors[slot] = error }
    }
    passing.flush { slot, delivered in
      if !delivered { outcomes[slot] = .passFailed }
    }
  }

  /// Forgets the sent frames.
  public func clear() { gathered = 0 }

  /// What the sends cost in system calls so far.
  public var slowPath: SlowPathCalls {
    SlowPathCalls(
      passFrames: passing.frames, passCalls: passing.systemCalls,
      redirectFrames: ports.sentFrames, redirectCalls: ports.systemCalls)
  }
}

extension GatheredSends {
  /// Sends of their own for a loop that is not the datapath (the bench's
  /// `mix-sends` reference): a PASS device on `interface` (the
  /// datapath's TAP, ``PassDeviceName``: never both at once), removed by
  /// ``removePassDevice()``.
  public static func passing(
    into interface: String, latency: UInt64 = GatheredSends.defaultLatency
  ) throws(DatapathError) -> GatheredSends {
    guard let index = NetworkInterface.index(of: interface) else {
      throw .interfaceNotFound(interface)
    }
    return GatheredSends(pass: try PassDevice(interface: interface, index: index), latency: latency)
  }

  /// Sends of another queue into the same PASS device.
  public func sharingPassDevice() -> GatheredSends { GatheredSends(pass: pass, latency: latency) }

  /// Removes the PASS device (after the last ``send()``).
  public func removePassDevice() { pass.remove() }
}
