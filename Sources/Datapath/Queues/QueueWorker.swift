import BPF
import CLinux
import Engine
import Glibc
import Kernel
import Synchronization

/// The loop of one receive queue: take up to 64 frames off the RX ring,
/// run the program on them in the current form, act on each verdict, and
/// publish what it counted. The form is read once per RX batch, so a swap
/// lands between two batches: no frame is run twice or skipped.
final class QueueWorker: @unchecked Sendable {
  let socket: QueueSocket
  let machine: Machine
  let runner: LiveFrameRunner
  let forms: ProgramForms
  let pass: PassDevice
  let state: DatapathState
  /// Where the lines the program prints go (``collectTrace(form:)``).
  let trace: TraceFeed
  /// Act on a batch's verdicts grouped by action instead of in frame order.
  let groupActions: Bool
  /// What this queue counted and timed, read by the flusher and status.
  let published = Mutex(QueueReport())
  /// This queue's exchange with the kernel's maps; set before the
  /// worker's thread starts.
  var exchange: MapExchange?

  private let ports = RedirectPorts(capacity: LiveFrameRunner.maximumBatch)
  private let passing: PassQueue
  private let frames: UnsafeMutableBufferPointer<LiveFrameRunner.Frame>
  private let chunks: UnsafeMutablePointer<UInt64>
  /// What became of each frame of the batch (kept between batches: no
  /// allocation per batch).
  private let outcomes: UnsafeMutablePointer<Outcome>
  /// Why each frame's REDIRECT was not sent (the kernel's errno).
  private let sendErrors: UnsafeMutablePointer<Int32>
  /// Packets and bytes per action and per failed outcome in one batch.
  private let tally: UnsafeMutablePointer<UInt64>
  private var fallbackNoted = false
  /// Alternates the forms for a while after every swap.
  private var window = ComparisonWindow()
  /// The machine's trace counts when its lines were last taken.
  private var tracePrinted = 0
  private var traceDropped = 0
  /// RX batches taken so far (which of them get their program timed).
  private var batches = 0
  /// Time the program on one RX batch in this many, and on every batch of
  /// a comparison window: at one or two frames a batch, the two clock
  /// readings around the engine call (about 30 ns each on this project's
  /// VMs) cost more than the program.
  static let programSampling = 8

  init(
    socket: QueueSocket, machine: Machine, runner: LiveFrameRunner, forms: ProgramForms,
    pass: PassDevice, state: DatapathState, trace: TraceFeed, groupActions: Bool = false
  ) {
    self.trace = trace
    self.socket = socket
    self.machine = machine
    self.runner = runner
    self.forms = forms
    self.pass = pass
    passing = PassQueue(device: pass, capacity: LiveFrameRunner.maximumBatch)
    self.state = state
    self.groupActions = groupActions
    runner.lendsFrames = true
    frames = .allocate(capacity: LiveFrameRunner.maximumBatch)
    chunks = .allocate(capacity: LiveFrameRunner.maximumBatch)
    outcomes = .allocate(capacity: LiveFrameRunner.maximumBatch)
    outcomes.initialize(repeating: .done, count: LiveFrameRunner.maximumBatch)
    sendErrors = .allocate(capacity: LiveFrameRunner.maximumBatch)
    sendErrors.initialize(repeating: 0, count: LiveFrameRunner.maximumBatch)
    tally = .allocate(capacity: Self.tallySlots * 2)
    tally.initialize(repeating: 0, count: Self.tallySlots * 2)
  }

  deinit {
    frames.deallocate()
    chunks.deallocate()
    outcomes.deallocate()
    sendErrors.deallocate()
    tally.deallocate()
  }

  /// Runs until the datapath stops, then takes what is left on the RX
  /// ring and hands the engine's last changes to the kernel's maps.
  func run() {
    while !state.stopping.load(ordering: .relaxed) {
      if let exchange, exchange.exchangeIfDue(now: Self.now()) { publish(exchange) }
      socket.recycleCompletions()
      if !receiveBatch() { socket.idle() }
    }
    drain()
    if let exchange {
      exchange.exchange()
      publish(exchange)
    }
  }

  /// How long the RX ring must stay empty before a stopping queue is done
  /// with it, and the longest the queue waits for that.
  static let drainQuiet: UInt64 = 20_000_000
  static let drainLimit: UInt64 = 500_000_000

  /// Runs the frames still arriving on the RX ring: the kernel redirected
  /// them to this queue before it took the interface back (a swap to the
  /// kernel replaces the link's program first, then stops the datapath),
  /// so they are the program's to count. Done when the ring stayed empty
  /// for ``drainQuiet`` (the kernel's last redirects are in by then), or
  /// after ``drainLimit`` when traffic keeps coming (a stop with the
  /// redirect program still attached: the fallback takes over when the
  /// sockets close).
  private func drain() {
    let start = Self.now()
    var quietSince = start
    while true {
      let now = Self.now()
      guard now &- start < Self.drainLimit, now &- quietSince < Self.drainQuiet else { return }
      socket.recycleCompletions()
      if receiveBatch() {
        quietSince = Self.now()
      } else {
        _ = socket.socket.waitReadable(milliseconds: 2)
      }
    }
  }

  /// Hands what the program printed in this batch to the datapath's
  /// trace feed, after the count of lines the machine's ring dropped.
  private func collectTrace(form: Form) {
    let lines = machine.takeTraceLines()
    let log = machine.traceLog
    trace.append(lines, lost: log.dropped - traceDropped, queue: socket.queue, form: form)
    tracePrinted = log.printed
    traceDropped = log.dropped
  }

  /// Publishes what the exchange reports.
  private func publish(_ exchange: MapExchange) {
    let (problem, count, nanoseconds) = (exchange.problem, exchange.count, exchange.nanoseconds)
    published.withLock { report in
      report.mapProblem = problem
      report.exchanges = count
      report.exchangeNanoseconds = nanoseconds
    }
  }

  /// One RX batch; false when the ring was empty.
  private func receiveBatch() -> Bool {
    var index: UInt32 = 0
    let count = Int(socket.peekReceived(at: &index))
    guard count > 0 else { return false }
    // Timed from here: an empty ring costs no clock reading.
    let start = Self.now()
    let base = socket.region.start
    let usable = UInt32(QueueSocket.frameSize - PacketRunner.sharedInfoSize)
    let arena = machine.addressSpace.hostMemory(at: 0)
    for slot in 0..<count {
      let descriptor = socket.socket.receive.descriptor(at: index &+ UInt32(slot))
      // The kernel copied the frame on another CPU a moment ago: its
      // headers are brought in while the batch is set up, not when the
      // program first reads them (as a driver prefetches each frame).
      clinux_prefetch(arena + Int(base &+ UInt32(descriptor.address)))
      let start = QueueSocket.chunk(descriptor.address)
      chunks[slot] = start
      frames[slot] = LiveFrameRunner.Frame(
        hardStart: base &+ UInt32(start), data: base &+ UInt32(descriptor.address),
        length: descriptor.length, hardEnd: base &+ UInt32(start) &+ usable)
    }
    socket.releaseReceived(UInt32(count))

    let (form, opensWindow, measured) = window.form(
      chosen: state.form, swaps: state.swaps, batchAvailable: forms.batch != nil, now: start)
    batches &+= 1
    let timesProgram = measured || batches % Self.programSampling == 0
    let programStart = timesProgram ? Self.now() : 0
    let frames = UnsafeBufferPointer(rebasing: self.frames[0..<count])
    let ranForm: Form
    if form == .batch, let batch = forms.batch {
      runner.run(batch, frames: frames, form: .batch, padded: forms.padded)
      ranForm = .batch
    } else {
      runner.run(forms.perPacket, frames: frames, form: .perPacket)
      ranForm = .perPacket
    }
    let programNanoseconds = timesProgram ? Self.now() &- programStart : nil
    if let error = runner.lastError { state.note(error) }
    // Before the batch is counted: a reader that saw the count sees its lines.
    if machine.tracePrinted != tracePrinted { collectTrace(form: ranForm) }
    act(count: count)
    let end = Self.now()
    let fallback = fallbackNoted ? nil : machine.engineFallback
    if fallback != nil { fallbackNoted = true }
    // Counted into a buffer of this queue's, outside the lock: the lock
    // then adds eight pairs, not a subscript of ActionCounts per frame.
    let verdicts = runner.lastVerdicts
    let tally = self.tally
    for index in 0..<Self.tallySlots * 2 { tally[index] = 0 }
    var failed = false
    for slot in 0..<count {
      let verdict = verdicts[slot]
      let bytes = UInt64(verdict.length)
      let action = Int(verdict.action.rawValue)
      let outcome = outcomes[slot]
      // A REDIRECT counts as one only when its frame left.
      if verdict.action != .redirect || outcome == .done {
        tally[action * 2] &+= 1
        tally[action * 2 + 1] &+= bytes
      }
      if outcome != .done {
        failed = true
        let index = (Self.actionSlots + Int(outcome.rawValue) - 1) * 2
        tally[index] &+= 1
        tally[index + 1] &+= bytes
      }
    }
    var errors = RedirectErrors()
    if failed {
      for slot in 0..<count {
        switch outcomes[slot] {
        case .redirectUnsent:
          errors.add(1, reason: RedirectErrors.reason(errno: sendErrors[slot]))
        case .redirectToSocket: errors.add(1, reason: "xskmap")
        case .redirectToProcessor: errors.add(1, reason: "cpumap")
        case .redirectBroadcast: errors.add(1, reason: "broadcast")
        default: break
        }
      }
    }
    let slowPath = SlowPathCalls(
      passFrames: passing.frames, passCalls: passing.systemCalls,
      redirectFrames: ports.sentFrames, redirectCalls: ports.systemCalls)
    published.withLock { report in
      if let fallback { report.engineFallback = fallback }
      for action in 0..<Self.actionSlots {
        let index = action * 2
        guard tally[index] > 0 else { continue }
        let action = XDPAction(rawValue: UInt32(action))!
        report.totals.actions[action].packets &+= tally[index]
        report.totals.actions[action].bytes &+= tally[index + 1]
      }
      if failed { Self.addFailures(tally, errors, to: &report) }
      report.timing[ranForm].add(
        packets: count, programNanoseconds: programNanoseconds,
        datapathNanoseconds: end &- start)
      report.slowPath = slowPath
      if opensWindow { report.comparison = TimingByForm() }
      if measured {
        report.comparison[ranForm].add(
          packets: count, programNanoseconds: programNanoseconds,
          datapathNanoseconds: end &- start)
      }
    }
    return true
  }

  /// Adds a batch's failed outcomes (the tally's slots after the actions)
  /// and their redirect errors to `report`.
  private static func addFailures(
    _ tally: UnsafeMutablePointer<UInt64>, _ errors: RedirectErrors, to report: inout QueueReport
  ) {
    if errors.total > 0 { report.redirectErrors.add(errors) }
    func add(_ count: inout ActionCount, _ outcome: Outcome) {
      let index = (actionSlots + Int(outcome.rawValue) - 1) * 2
      count.packets &+= tally[index]
      count.bytes &+= tally[index + 1]
    }
    for (outcome, reason) in [
      (Outcome.redirectUnsent, RedirectFailures.Reason.unsent),
      (.redirectToSocket, .socket), (.redirectToProcessor, .processor),
      (.redirectBroadcast, .broadcast),
    ] {
      add(&report.totals.redirectFailed, outcome)
      report.redirectFailures[reason] &+= tally[(actionSlots + Int(outcome.rawValue) - 1) * 2]
    }
    add(&report.totals.passFailed, .passFailed)
    add(&report.totals.transmitFailed, .transmitFailed)
  }

  /// What became of a frame: done, or why not (a REDIRECT by reason).
  enum Outcome: UInt8 {
    case done, passFailed, transmitFailed
    case redirectUnsent, redirectToSocket, redirectToProcessor, redirectBroadcast
  }

  /// The tally's slots: one per action (ABORTED to REDIRECT, the
  /// kernel's five), then one per failed outcome. Computed constants: a
  /// stored static would be a lazily made global, checked on every batch.
  static var actionSlots: Int { Int(XDPAction.redirect.rawValue) + 1 }
  static var tallySlots: Int { actionSlots + 6 }

  /// Carries out each verdict, in frame order or grouped by action (every
  /// drop, then TX and REDIRECT, then PASS); frames not transmitted go
  /// back to the fill ring. Leaves what became of each in ``outcomes``.
  private func act(count: Int) {
    // The runner's own buffer, read in place.
    let verdicts = runner.lastVerdicts
    var transmits = 0
    for slot in 0..<count {
      outcomes[slot] = .done
      let verdict = verdicts[slot]
      if verdict.action == .tx,
        socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
      {
        transmits += 1
      }
    }
    var transmitIndex: UInt32 = 0
    var transmitRoom = 0
    if transmits > 0 {
      transmitRoom = Int(socket.socket.transmit.reserve(UInt32(transmits), at: &transmitIndex))
    }
    // Every frame not transmitted goes back to the fill ring, which has
    // room for all the UMEM's frames.
    let toRecycle = count - min(transmits, transmitRoom)
    var fillIndex: UInt32 = 0
    let fillRoom =
      toRecycle > 0 ? Int(socket.socket.fill.reserve(UInt32(toRecycle), at: &fillIndex)) : 0
    var rings = BatchRings(
      fillIndex: fillIndex, fillRoom: fillRoom, transmitIndex: transmitIndex,
      transmitRoom: transmitRoom)
    if groupActions {
      for slot in 0..<count {
        let action = verdicts[slot].action
        if action == .drop || action == .aborted { act(slot, verdicts[slot], &rings) }
      }
      for slot in 0..<count {
        let action = verdicts[slot].action
        if action == .tx || action == .redirect { act(slot, verdicts[slot], &rings) }
      }
      for slot in 0..<count where verdicts[slot].action == .pass {
        act(slot, verdicts[slot], &rings)
      }
    } else {
      for slot in 0..<count { act(slot, verdicts[slot], &rings) }
    }
    // The batch's REDIRECT frames leave together, before their UMEM
    // frames go back to the kernel on the fill ring.
    let outcomes = self.outcomes
    let sendErrors = self.sendErrors
    ports.flush { slot, error in
      if error == 0 { outcomes[slot] = .done } else { sendErrors[slot] = error }
    }
    passing.flush { slot, delivered in
      if !delivered { outcomes[slot] = .passFailed }
    }
    if rings.recycled > 0 { socket.socket.fill.submit(UInt32(rings.recycled)) }
    if transmitRoom > 0 {
      socket.socket.transmit.submit(UInt32(rings.transmitted))
      socket.transmitted(rings.transmitted)
    }
  }

  /// The fill and TX ring slots one batch reserved, and how many it used.
  private struct BatchRings {
    var fillIndex: UInt32
    var fillRoom: Int
    var transmitIndex: UInt32
    var transmitRoom: Int
    var recycled = 0
    var transmitted = 0
  }

  @inline(__always) private func recycle(_ slot: Int, _ rings: inout BatchRings) {
    guard rings.recycled < rings.fillRoom else { return }
    socket.socket.fill.setAddress(chunks[slot], at: rings.fillIndex &+ UInt32(rings.recycled))
    rings.recycled += 1
  }

  /// The frame `verdict` leaves in `slot`'s UMEM frame, in host memory:
  /// where the runner's bookkeeping says the packet is (never what the
  /// program wrote into its context record), checked against the frame
  /// the kernel delivered; nil when it lies outside.
  @inline(__always) private func packet(_ slot: Int, _ verdict: LiveFrameRunner.Verdict)
    -> UnsafeMutableRawPointer?
  {
    guard socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
    else { return nil }
    return machine.addressSpace.hostMemory(at: verdict.data)
  }

  /// Carries out the verdict of `slot`.
  @inline(__always) private func act(
    _ slot: Int, _ verdict: LiveFrameRunner.Verdict, _ rings: inout BatchRings
  ) {
    switch verdict.action {
    case .tx:
      if rings.transmitted < rings.transmitRoom,
        socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
      {
        socket.socket.transmit.setDescriptor(
          XDPDescriptor(
            address: UInt64(verdict.data &- socket.region.start), length: verdict.length),
          at: rings.transmitIndex &+ UInt32(rings.transmitted))
        rings.transmitted += 1
      } else {
        outcomes[slot] = .transmitFailed
        recycle(slot, &rings)
      }
    case .redirect:
      outcomes[slot] = .redirectUnsent
      if let target = verdict.redirect, let pointer = packet(slot, verdict) {
        switch target {
        case .interface(let index), .device(_, _, let index):
          // Sent with the batch's other redirects (``RedirectPorts/flush(_:)``).
          _ = ports.enqueue(
            slot: slot, frame: pointer, length: Int(verdict.length), toInterface: index)
        case .socket:
          // The user's AF_XDP socket: this datapath's own sockets own the queues.
          outcomes[slot] = .redirectToSocket
        case .processor: outcomes[slot] = .redirectToProcessor
        case .broadcast: outcomes[slot] = .redirectBroadcast
        }
      }
      recycle(slot, &rings)
    case .pass:
      // Sent with the batch's other PASS frames (``PassQueue/flush(_:)``).
      if let pointer = packet(slot, verdict),
        passing.enqueue(slot: slot, frame: pointer, length: Int(verdict.length))
      {
      } else {
        outcomes[slot] = .passFailed
      }
      recycle(slot, &rings)
    case .drop, .aborted:
      recycle(slot, &rings)
    }
  }

  /// CLOCK_MONOTONIC in nanoseconds.
  @inline(__always) static func now() -> UInt64 { MonotonicClock.nanoseconds() }
}
