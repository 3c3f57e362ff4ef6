import BPF
import Console
import Control
import Foundation
import Rewriter

/// Control's side of the console: produces the ``ConsoleSnapshot`` the
/// console draws each frame, and carries out the commands its keys ask
/// for through the same Control calls as `attach`, `swap`, `detach` and
/// `stats` on the command line.
///
/// Kernel reads are paced, not done per frame: the interface list once a
/// second, the selected interface's counters once a second. Between
/// reads a frame gets the snapshot it got before.
final class ConsoleSession {
  /// Seconds between interface listings (netlink dumps).
  static let inventoryInterval = 1.0
  /// Seconds between counter samples (the rates' window, as `stats
  /// --interval 1`).
  static let sampleInterval = 1.0

  private let deployment: ProgramDeployment
  private let kernelSupport: KernelBatchSupport
  private let choices: [AttachChoice]
  /// Keeps the kernel's run statistics on while the console runs.
  private let statistics: RunStatistics?
  private let clock: () -> Double

  private var inventory: InterfaceInventory?
  private var inventoryReadAt = -Double.infinity
  private var inventoryProblem: StatusMessage?
  private var selected: String?
  private var watch: TrafficWatch?
  private var news: StatusMessage?
  private var rewrites = RewriteSummaries()
  private var cached: ConsoleSnapshot?

  /// A session starting with `interface` selected (`nil`: the demo's
  /// interface when the demo is up, otherwise the list's first).
  init(
    interface: String?, deployment: ProgramDeployment = ProgramDeployment(),
    clock: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime }
  ) {
    self.deployment = deployment
    self.clock = clock
    choices = SampleCatalog.choices()
    statistics = try? RunStatistics.enable()
    kernelSupport = Self.probeKernel(btfPath: deployment.btfPath)
    let demo = Demo(state: deployment.state)
    selected = interface ?? (demo.status().isUp ? demo.veth.name : nil)
  }

  /// The snapshot for this frame.
  func snapshot() -> ConsoleSnapshot {
    let now = clock()
    var changed = false
    if now - inventoryReadAt >= Self.inventoryInterval {
      refreshInventory(at: now)
      changed = true
    }
    if let selected, now - (watch?.sampledAt ?? -.infinity) >= Self.sampleInterval {
      if watch?.interface != selected { watch = TrafficWatch(interface: selected) }
      watch?.sample(deployment: deployment, at: now)
      changed = true
    }
    if !changed, let cached { return cached }
    let snapshot = makeSnapshot()
    cached = snapshot
    return snapshot
  }

  /// Carries out `command`; a failure is thrown with Control's message
  /// (the console shows it in the error colour), success becomes news.
  func execute(_ command: Console.ConsoleCommand) throws {
    switch command {
    case .select(let interface):
      selected = interface
      news = nil
    case .attach(let interface, let objectPath, let program):
      let source =
        try program.map { ProgramSource(objectPath: objectPath, programName: $0) }
        ?? ProgramSource.firstXDPProgram(in: objectPath)
      let record = try deployment.attach(source, to: interface, mode: .native)
      news = .info(
        "attached \(record.program) (\(record.form.rawValue), \(record.attachMode.rawValue)) to \(interface)"
      )
    case .swapMode(let interface):
      let record = try deployment.swap(interface: interface)
      news = .info("\(interface) now runs \(record.program) \(record.form.rawValue)")
    case .cycleStrategy(let interface):
      let record = try deployment.cycleStrategy(interface: interface)
      news = .info(
        "batch form of \(record.program) uses the \(record.strategy.rawValue) strategy (b swaps)"
      )
    case .detach(let interface):
      try deployment.detach(interface: interface)
      news = .info("detached xdpbatch's program from \(interface)")
    case .resetBaseline(let interface):
      guard watch?.interface == interface else { break }
      watch?.resetBaseline()
      news = .info("counting \(interface) from zero (the kernel's counters are unchanged)")
    case .quit:
      return
    }
    // What the command changed shows in the next frame, not a second
    // later; the counters keep their pace (a short window's rates jitter).
    inventoryReadAt = -.infinity
    watch?.refreshRecord(deployment: deployment)
    cached = nil
  }

  private func refreshInventory(at now: Double) {
    inventoryReadAt = now
    do {
      inventory = try InterfaceInventory.query()
      inventoryProblem = nil
    } catch {
      inventoryProblem = .error("cannot list interfaces: \(error)")
    }
  }

  private func makeSnapshot() -> ConsoleSnapshot {
    let listing = InterfaceListing(
      inventory ?? InterfaceInventory(interfaces: [], reportsXDPFeatures: false), includeAll: true)
    var snapshot = ConsoleSnapshot(listing: listing)
    snapshot.selectedInterface = selected
    snapshot.kernelBatchSupport = kernelSupport
    snapshot.attachChoices = choices
    if let watch, watch.interface == selected {
      snapshot.traffic = watch.traffic
      snapshot.history = watch.history
      snapshot.program = watch.record.map { programStatus($0, watch: watch) }
    }
    let listed = selected.map { name in listing.interfaces.contains { $0.name == name } } ?? true
    snapshot.status =
      inventoryProblem ?? watch?.problem ?? news
      ?? (listed ? nil : .error("no interface named \(selected ?? "")"))
      ?? listing.notices.first.map { .info($0) }
      ?? .info("\(listing.interfaces.filter(\.isI40e).count) i40e port(s); ? shows the keys")
    return snapshot
  }

  private func programStatus(_ record: AttachmentRecord, watch: TrafficWatch) -> ProgramStatus {
    let counts = rewrites.counts(of: record)
    return ProgramStatus(
      objectPath: record.object, programName: record.program,
      mode: record.form, strategy: record.strategy, bound: record.bound,
      batchSize: record.batchTrampoline.batchSize, attachMode: record.attachMode,
      instructionsBefore: counts?.before ?? 0, instructionsAfter: counts?.after,
      nanosecondsPerPacket: watch.nanosecondsPerPacket)
  }

  /// What the BTF probe says about batch XDP in the running kernel.
  static func probeKernel(btfPath: String) -> KernelBatchSupport {
    do {
      let support = try BatchKernelSupport.probe(btfPath: btfPath)
      if let field = support.actionField {
        return .supported("xdp_buff.\(field.name) at \(field.offset) of \(support.bufferSize) B")
      }
      return .unsupported("no xdp_buff.act (BTF)")
    } catch {
      return .unknown("\(error)")
    }
  }
}

/// The selected interface's counters over time: a ``CounterTracker`` fed
/// every sample, the rate history, and the cost per packet of each form
/// seen running.
struct TrafficWatch {
  let interface: String
  var sampledAt = -Double.infinity
  var tracker = CounterTracker()
  var traffic = ActionTraffic()
  var history = RateHistory()
  var record: AttachmentRecord?
  var nanosecondsPerPacket: [Form: Double] = [:]
  var problem: StatusMessage?

  init(interface: String) {
    self.interface = interface
  }

  /// Reads the interface's attachment and counters (as `stats` does).
  mutating func sample(deployment: ProgramDeployment, at now: Double) {
    sampledAt = now
    do {
      let (attachment, current) = try deployment.current(interface: interface)
      let hasRates = tracker.last != nil
      let report = tracker.record(try attachment.sample(at: now))
      // Another program's cost says nothing about this one's.
      if current?.source != record?.source { nanosecondsPerPacket = [:] }
      record = current
      traffic = ActionTraffic(report)
      // The first sample has totals but no rates yet: not a point at zero.
      if hasRates { history.append(time: now, packetsPerSecond: report.packetsPerSecond) }
      if let form = current?.form, let cost = report.nanosecondsPerRun {
        nanosecondsPerPacket[form] = cost
      }
      problem =
        current == nil
        ? .error(DeploymentError.unknownProgram(interface: interface).description)
        : nil
    } catch DeploymentError.attach(.notAttached) {
      self = TrafficWatch(interface: interface)
      sampledAt = now
    } catch {
      record = nil
      problem = .error("cannot read the counters of \(interface): \(error)")
    }
  }

  /// Re-reads only which program runs (after a command), leaving the
  /// counters to the next sample.
  mutating func refreshRecord(deployment: ProgramDeployment) {
    do {
      record = try deployment.current(interface: interface).1
    } catch {
      record = nil
    }
  }

  /// Totals from zero from now on; rates and history go on.
  mutating func resetBaseline() {
    tracker.resetBaseline()
    traffic.totals = ActionCounts()
  }
}

/// The batch rewrite's instruction counts, computed once per program and
/// rewrite (reading the object and rewriting is too slow for every frame).
struct RewriteSummaries {
  /// Instructions as compiled, and after the rewrite (`nil` when the
  /// rewriter refuses the program, as it does tail calls).
  struct Counts: Hashable {
    var before: Int
    var after: Int?
  }

  private struct Key: Hashable {
    var object: String
    var program: String
    var strategy: BatchStrategy
    var bound: BatchBound
  }

  private var known: [Key: Counts?] = [:]

  /// The counts for `record`'s program and rewrite, `nil` when the object
  /// is unreadable.
  mutating func counts(of record: AttachmentRecord) -> Counts? {
    let key = Key(
      object: record.object, program: record.program, strategy: record.strategy,
      bound: record.bound)
    if let counts = known[key] { return counts }
    var counts: Counts?
    if let summary = try? record.source.batchSummary(record.batchTrampoline) {
      counts = Counts(before: summary.instructionsBefore, after: summary.instructionsAfter)
    } else if let request = try? record.source.uninstrumentedRequest() {
      counts = Counts(before: request.program.instructions.count, after: nil)
    }
    known[key] = counts
    return counts
  }
}
