import BPF
import CLinux
import Engine
import Glibc
import Kernel
import Synchronization

/// The loop of one receive queue: take up to 64 frames off the RX ring,
/// run the program on them in the current form, act on each verdict
/// (``QueueWorker+Acting.swift``; PASS and REDIRECT frames are gathered
/// across batches and sent together, ``GatheredSends``), and publish what
/// it counted. The form is read once per RX batch, so a swap lands between
/// two batches: no frame is run twice or skipped.
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

  /// PASS and REDIRECT frames waiting for their send.
  let sends: GatheredSends
  private let frames: UnsafeMutableBufferPointer<LiveFrameRunner.Frame>
  let chunks: UnsafeMutablePointer<UInt64>
  /// The buffer of each batch's and each send's ``ActionTally``.
  let tallyBuffer = ActionTally.allocateBuffer()
  /// The UMEM frames a batch gives back to the fill ring.
  let recycling: UnsafeMutablePointer<UInt64>
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
    pass: PassDevice, state: DatapathState, trace: TraceFeed, groupActions: Bool = false,
    sendLatency: UInt64 = GatheredSends.defaultLatency
  ) {
    self.trace = trace
    self.socket = socket
    self.machine = machine
    self.runner = runner
    self.forms = forms
    self.pass = pass
    sends = GatheredSends(pass: pass, latency: sendLatency)
    self.state = state
    self.groupActions = groupActions
    runner.lendsFrames = true
    frames = .allocate(capacity: LiveFrameRunner.maximumBatch)
    chunks = .allocate(capacity: LiveFrameRunner.maximumBatch)
    recycling = .allocate(capacity: LiveFrameRunner.maximumBatch)
  }

  deinit {
    frames.deallocate()
    chunks.deallocate()
    recycling.deallocate()
    tallyBuffer.deallocate()
  }

  /// Runs until the datapath stops, then takes what is left on the RX
  /// ring, sends what it gathered and hands the engine's last changes to
  /// the kernel's maps.
  func run() {
    // The time for the exchange's due check: the last batch's end (read
    // anyway), or read again after the ring was found empty; no clock
    // reading of its own per batch.
    var clock = Self.now()
    while !state.stopping.load(ordering: .relaxed) {
      if let exchange, exchange.exchangeIfDue(now: clock) { publish(exchange) }
      socket.recycleCompletions()
      if let end = receiveBatch() {
        clock = end
        continue
      }
      defer { clock = Self.now() }
      if sends.count > 0 {
        // The ring is empty: more frames may come before the gathered
        // ones are due; if none do, the ring is idle and they go now. A
        // wait is at most an idle one's, so a stop is seen as soon.
        let wait = min(sends.remaining(now: Self.now()), Self.idleWait)
        if wait > 0, socket.socket.waitReadable(microseconds: Int(wait / 1000) + 1) { continue }
        if sends.remaining(now: Self.now()) == 0 { sendGathered() }
      } else {
        socket.idle()
      }
    }
    drain()
    sendGathered()
    if let exchange {
      exchange.exchange()
      publish(exchange)
    }
  }

  /// The longest wait for frames while others are gathered (as long as
  /// ``QueueSocket/idle()`` waits).
  static let idleWait: UInt64 = 20_000_000

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
      if let end = receiveBatch() {
        quietSince = end
      } else {
        sendGathered()
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

  /// One RX batch; returns when it was done (nil when the ring was empty).
  private func receiveBatch() -> UInt64? {
    var index: UInt32 = 0
    let count = Int(socket.peekReceived(at: &index))
    guard count > 0 else { return nil }
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
    var tally = ActionTally(over: tallyBuffer)
    act(count: count, form: ranForm, measured: measured, now: start, tally: &tally)
    let end = Self.now()
    let fallback = fallbackNoted ? nil : machine.engineFallback
    if fallback != nil { fallbackNoted = true }
    published.withLock { report in
      if let fallback { report.engineFallback = fallback }
      tally.add(to: &report)
      report.timing[ranForm].add(
        packets: count, programNanoseconds: programNanoseconds,
        datapathNanoseconds: end &- start)
      if opensWindow { report.comparison = TimingByForm() }
      if measured {
        report.comparison[ranForm].add(
          packets: count, programNanoseconds: programNanoseconds,
          datapathNanoseconds: end &- start)
      }
    }
    if sends.isDue(now: end) { sendGathered() }
    return end
  }

  /// CLOCK_MONOTONIC in nanoseconds.
  @inline(__always) static func now() -> UInt64 { MonotonicClock.nanoseconds() }
}
