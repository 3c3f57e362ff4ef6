import BPF
import Datapath
import Deployment
import Engine
import Foundation
import Frames
import Glibc

/// The software datapath at saturation on a veth pair the bench makes in a
/// namespace of its own (198.18.0.0/15) and removes: in one run, the
/// references (the kernel's native XDP dropping, a bare AF_XDP loop that
/// recycles or sends back) and the datapath running xdp1 (DROP), xdp_tx
/// (TX) and xdp_classify (all five verdicts) in each form; then what
/// sharing the maps with the kernel costs, per map type (``MapCostRow``).
///
/// Each row sends at full speed from the far end (``sendingThreads``
/// generator threads) for ``seconds`` and reads three rates from the host
/// end: frames
/// offered (veth's `rx_packets` + `rx_dropped`: what the generator got
/// onto the veth ring, taken or not), frames received (`rx_packets`: what
/// XDP saw) and frames acted on (the program's counters, or the bare
/// loop's count). Offered above received says the generator outran the
/// receiver: the row measures the receiver, not the generator. Each
/// software row is compared with the bare loop measured right before it.
public struct DatapathBench: Sendable {
  /// The compiled samples (xdp1.o, xdp_tx.o, xdp_classify.o).
  public var samples: String
  /// Seconds of traffic per row.
  public var seconds: Double
  /// The engine of the main rows.
  public var engine: EngineKind
  /// Also run xdp1 in the interpreter (when ``engine`` is the JIT).
  public var interpreterRows: Bool
  /// Generator threads (CPUs 0 to senders - 1); nil: half the CPUs (at
  /// least one), leaving the rest to the receiver: a generator on every
  /// CPU starves the AF_XDP loops of the CPU time they measure.
  public var senders: Int?
  /// The veth pair, namespace and state directory the run makes and
  /// removes.
  public var network = DatapathBenchNetwork.random()

  /// Frames per RX batch of the paced rows: xdp1, xdp_tx and
  /// xdp_classify in both forms (``engine``), each beside its bare loop
  /// paced alike (``RXPacing``), at each size.
  public var pacedBatches = Self.defaultPacedBatches
  /// One frame a batch to NAPI's budget of 64.
  public static let defaultPacedBatches = [1, 8, 32, 64]

  /// Rounds per software row: its ``seconds`` split into this many
  /// alternations of its bare loop (and matched loop) and the datapath,
  /// each timed over its share; the row is the round whose capacity ratio
  /// is the median (``DatapathBenchRow/median(of:)``). The kernel's own
  /// work in a row (the TX path's copy and the peer's receive, 0.9 to 1.7
  /// µs a frame on the AMD VM for xdp_tx) drifts by tenths between
  /// windows seconds apart, where the program adds tens of nanoseconds: a
  /// ratio of one pair of windows held that drift.
  public var rounds = Self.defaultRounds
  /// Three rounds: a median that one slow window cannot move.
  public static let defaultRounds = 3

  /// The generator threads a run uses.
  public var sendingThreads: Int {
    senders ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) / 2)
  }

  /// Describes a bench.
  public init(
    samples: String, seconds: Double = 2, engine: EngineKind = .platformDefault,
    interpreterRows: Bool = true, senders: Int? = nil
  ) {
    self.senders = senders
    self.samples = samples
    self.seconds = seconds
    self.engine = engine
    self.interpreterRows = interpreterRows
  }

  /// Why the section cannot run here, nil when it can.
  public static var unavailableReason: String? {
    if getuid() != 0 { return "needs root (BPF, AF_XDP, namespaces, TAP)" }
    if access("/dev/net/tun", F_OK) != 0 { return "no /dev/net/tun for the PASS device" }
    return nil
  }

  /// A program of the samples.
  struct Sample {
    var file: String
    var program: String
  }

  static let drop = Sample(file: "xdp1.o", program: "xdp_prog1")
  static let transmit = Sample(file: "xdp_tx.o", program: "xdp_tx")
  static let classify = Sample(file: "xdp_classify.o", program: "xdp_classify_prog")

  /// Measures every row, then the maps part (``MapCostRow``); `progress`
  /// hears each row as it starts. The network and every pin are removed
  /// afterwards, also on failure.
  public func run(progress: (String) -> Void = { _ in }) throws(DatapathBenchError)
    -> (rows: [DatapathBenchRow], maps: [MapCostRow])
  {
    let network = try BenchNetwork(self.network)
    defer { network.tearDown() }
    var rows: [DatapathBenchRow] = []
    func source(_ sample: Sample) -> ProgramSource {
      ProgramSource(objectPath: samples + "/" + sample.file, programName: sample.program)
    }
    progress("kernel native XDP: xdp1 (XDP_DROP)")
    rows.append(try kernelRow(source(Self.drop), network))
    for work in BareSocketLoop.Work.sectionStart {
      progress("bare AF_XDP loop: \(work.rawValue)")
      rows.append(try bareRow(work, fallback: source(Self.drop), network))
    }
    var plan: [(Sample, Form, EngineKind, Bool, RXPacing?)] = []
    for sample in [Self.drop, Self.transmit, Self.classify] {
      for form in [Form.perPacket, .batch] { plan.append((sample, form, engine, false, nil)) }
    }
    for form in [Form.perPacket, .batch] { plan.append((Self.classify, form, engine, true, nil)) }
    if interpreterRows, engine != .interpreter {
      for form in [Form.perPacket, .batch] {
        plan.append((Self.drop, form, .interpreter, false, nil))
      }
    }
    for frames in pacedBatches {
      for sample in [Self.drop, Self.transmit, Self.classify] {
        for form in [Form.perPacket, .batch] {
          plan.append((sample, form, engine, false, RXPacing(frames: frames)))
        }
      }
    }
    for (sample, form, engine, grouped, pacing) in plan {
      let work = DatapathBenchRow.referenceWork(of: sample.program)
      let matchedWork = DatapathBenchRow.matchedWork(of: sample.program)
      progress(
        "software datapath: \(sample.program), \(form.rawValue), \(engine.rawValue)"
          + (grouped ? ", grouped actions" : "")
          + (pacing.map { ", \($0.frames) frames an RX batch" } ?? "")
          + " (and the bare \(work.rawValue)"
          + (matchedWork.map { " and \($0.rawValue) loops" } ?? " loop") + " next to it)")
      // The bare loop again right before the datapath in every round,
      // paced alike: the machine's load and the kernel's share drift
      // within a run, and a ratio to a reference measured seconds apart
      // holds that drift.
      let rounds = max(self.rounds, 1)
      let share = seconds / Double(rounds)
      var measured: [DatapathBenchRow] = []
      for _ in 0..<rounds {
        let reference = try bareRow(
          work, fallback: source(Self.drop), network, pacing: pacing, seconds: share)
        let matched = try matchedWork.map { work throws(DatapathBenchError) in
          try bareRow(work, fallback: source(Self.drop), network, pacing: pacing, seconds: share)
        }
        var row = try softwareRow(
          source(sample), form: form, engine: engine, grouped: grouped,
          mixed: sample.program == Self.classify.program, network, pacing: pacing,
          seconds: share)
        row.pacedFrames = pacing?.frames
        row.referenceActedMpps = reference.actedMpps
        row.referenceNanosecondsPerPacket = reference.datapathNanosecondsPerPacket
        row.referenceFramesPerBatch = reference.framesPerBatch
        if let matched, let matchedWork {
          row.matchedReference = matchedWork.rawValue
          row.matchedReferenceActedMpps = matched.actedMpps
          row.matchedReferenceNanosecondsPerPacket = matched.datapathNanosecondsPerPacket
          row.matchedReferenceFramesPerBatch = matched.framesPerBatch
        }
        measured.append(row)
      }
      rows.append(DatapathBenchRow.median(of: measured))
    }
    DatapathBenchRow.addRatios(&rows)
    return (rows, try mapCosts(network, progress: progress))
  }

  private func kernelRow(_ source: ProgramSource, _ network: BenchNetwork)
    throws(DatapathBenchError) -> DatapathBenchRow
  {
    let deployment = ProgramDeployment(state: network.state)
    let attachment: XDPAttachment
    do {
      try deployment.attach(source, to: network.veth.name, mode: .native)
      attachment = try deployment.current(interface: network.veth.name).0
    } catch {
      throw .step("attach \(source.programName) natively", "\(error)")
    }
    defer { try? deployment.detach(interface: network.veth.name) }
    var row = try measure(network, frames: [InterleavedMix.template], mixed: false) {
      (try? attachment.counters.read().totalPackets) ?? 0
    }
    row.kind = "kernel"
    row.program = source.programName
    row.form = "native"
    return row
  }

  private func bareRow(
    _ work: BareSocketLoop.Work, fallback: ProgramSource, _ network: BenchNetwork,
    pacing: RXPacing? = nil, seconds: Double? = nil
  ) throws(DatapathBenchError) -> DatapathBenchRow {
    let loop: BareSocketLoop
    do {
      let spec = try fallback.instrumentedSpec().continuingMaps(of: network.veth.name)
      loop = try Self.retryingBusy {
        () throws(DatapathError) in
        try BareSocketLoop.start(
          interface: network.veth.name, fallback: spec, work: work, pacing: pacing)
      }
    } catch {
      throw .step("start the bare AF_XDP loop", "\(error)")
    }
    defer { loop.stop() }
    // The mix loop gets the traffic its software rows get.
    let mixed = work == .mix || work == .mixSends
    var row = try measure(
      network, frames: mixed ? InterleavedMix.frames : [InterleavedMix.template], mixed: mixed,
      seconds: seconds
    ) {
      loop.framesHandled
    }
    row.kind = "bare"
    row.form = work.rawValue
    row.socketDrops = loop.socketStatistics.dropped
    row.datapathNanosecondsPerPacket = loop.busyNanosecondsPerFrame
    row.framesPerBatch = loop.framesPerBatch
    return row
  }

  /// `sharedMaps` false runs with the engines' own maps (``MapCostRow``'s
  /// reference); `prepare` runs once the datapath is up, before traffic.
  func softwareRow(
    _ source: ProgramSource, form: Form, engine: EngineKind, grouped: Bool, mixed: Bool,
    _ network: BenchNetwork, sharedMaps: Bool = true, pacing: RXPacing? = nil,
    seconds: Double? = nil,
    prepare: (SoftwareDatapath) throws(DatapathBenchError) -> Void = { _ in }
  ) throws(DatapathBenchError) -> DatapathBenchRow {
    let datapath: SoftwareDatapath
    do {
      var configuration = try DatapathConfiguration(
        interface: network.veth.name, source: source, form: form, state: network.state,
        engine: engine, groupActions: grouped)
      configuration.sharedMaps = sharedMaps
      configuration.rxPacing = pacing
      datapath = try Self.retryingBusy {
        () throws(DatapathError) in try SoftwareDatapath.start(configuration)
      }
    } catch {
      throw .step("start the software datapath for \(source.programName)", "\(error)")
    }
    defer {
      datapath.stop()
      datapath.wait()
    }
    try prepare(datapath)
    let base = datapath.status()
    var row = try measure(
      network, frames: mixed ? InterleavedMix.frames : [InterleavedMix.template], mixed: mixed,
      seconds: seconds
    ) {
      // Frames whose REDIRECT did not leave were acted on too.
      let now = datapath.status()
      return now.counters.actions.totalPackets &- base.counters.actions.totalPackets
        &+ (now.redirectErrors?.total ?? 0) &- (base.redirectErrors?.total ?? 0)
    }
    let status = datapath.status()
    let timing = status.forms[form]
    row.kind = "software"
    row.program = source.programName
    row.form = form.rawValue
    row.engine = (status.runningEngine ?? engine).rawValue
    row.groupActions = grouped
    row.programNanosecondsPerPacket = timing.programNanosecondsPerPacket
    row.datapathNanosecondsPerPacket = timing.datapathNanosecondsPerPacket
    row.framesPerBatch = timing.framesPerBatch
    row.socketDrops = status.socket.dropped &- base.socket.dropped
    row.sharedMaps = sharedMaps
    if let exchange = status.mapExchange, let before = base.mapExchange {
      // Per frame the program ran on, as the datapath's own time per
      // packet (a REDIRECT that did not leave is in no action's count).
      let packets = timing.packets &- base.forms[form].packets
      let nanoseconds = exchange.nanoseconds &- before.nanoseconds
      row.exchanges = exchange.exchanges &- before.exchanges
      if let exchanges = row.exchanges, exchanges > 0 {
        row.exchangeMicroseconds = Double(nanoseconds) / Double(exchanges) / 1000
      }
      row.exchangeNanosecondsPerPacket = packets == 0 ? nil : Double(nanoseconds) / Double(packets)
    }
    var actions: [String: UInt64] = [:]
    for action in XDPAction.allCases {
      let count = status.counters.actions[action].packets &- base.counters.actions[action].packets
      if count > 0 { actions[action.name] = count }
    }
    // REDIRECT counts the frames that left; those that did not, apart.
    let errors = (status.redirectErrors?.total ?? 0) &- (base.redirectErrors?.total ?? 0)
    if errors > 0 { actions["redirect_error"] = errors }
    row.actions = actions
    return row
  }

  /// The kernel releases a closed socket's hold on its queue a moment
  /// later (deferred work): binding the next one meanwhile fails with
  /// EBUSY, so it is tried again for up to two seconds.
  static func retryingBusy<T>(_ start: () throws(DatapathError) -> T) throws(DatapathError) -> T {
    var attempt = 0
    while true {
      do {
        return try start()
      } catch .socket(_, _, _, let errno) where errno == .busy && attempt < 40 {
        attempt += 1
        usleep(50_000)
      }
    }
  }

  /// Full-speed traffic for `seconds` (nil: ``seconds``); `acted` reads
  /// the frames acted on so far.
  func measure(
    _ network: BenchNetwork, frames: [FrameTemplate], mixed: Bool, seconds: Double? = nil,
    acted: () -> UInt64
  ) throws(DatapathBenchError) -> DatapathBenchRow {
    let interface = network.veth.name
    func received() -> UInt64 { BenchNetwork.statistic(interface, "rx_packets") }
    func offered() -> UInt64 { received() &+ BenchNetwork.statistic(interface, "rx_dropped") }
    let (offered0, received0, acted0) = (offered(), received(), acted())
    let start = Date()
    let generator = TrafficGenerator.start(
      .init(
        frames: frames, interface: network.veth.peer, namespace: network.namespace,
        fullSpeed: true, order: mixed ? InterleavedMix.order : nil, senders: sendingThreads))
    Thread.sleep(forTimeInterval: seconds ?? self.seconds)
    if let failure = generator.stop() { throw .step("send traffic", "\(failure)") }
    let elapsed = Date().timeIntervalSince(start)
    // Frames still in the rings are taken shortly after the generator stops.
    var after = acted()
    for _ in 0..<50 {
      usleep(20_000)
      let now = acted()
      if now == after { break }
      after = now
    }
    func rate(_ count: UInt64) -> Double { Double(count) / elapsed / 1e6 }
    return DatapathBenchRow(
      seconds: elapsed, offeredMpps: rate(offered() &- offered0),
      receivedMpps: rate(received() &- received0), actedMpps: rate(after &- acted0))
  }
}

/// Why the datapath section failed.
public enum DatapathBenchError: Error, Sendable, CustomStringConvertible {
  /// A step failed, with what it said.
  case step(String, String)

  /// The step and the reason.
  public var description: String {
    switch self {
    case .step(let step, let reason): "datapath bench: \(step): \(reason)"
    }
  }
}
