import BPF
import Console
import Deployment
import Foundation
import Inspection
import Kernel
import Lab

/// The console's live side: produces the ``ConsoleSnapshot`` the console
/// draws each frame, and carries out the commands its keys ask for
/// through the same calls as `attach`, `swap`, `detach` and `stats` on
/// the command line (``ProgramDeployment`` across the kernel and the
/// software datapath).
///
/// Kernel reads are paced, not done per frame: the interface list once a
/// second, the selected interface's counters once a second. Between
/// reads a frame gets the snapshot it got before. The clock, the
/// interface listing and the counters are injected, so that the pacing
/// and the snapshot can be tested without a kernel.
public final class ConsoleSession {
  /// Seconds between interface listings (netlink dumps).
  public static let inventoryInterval = 1.0
  /// Seconds between counter samples (the rates' window, as `stats
  /// --interval 1`).
  public static let sampleInterval = 1.0

  /// Attach, swap, strategy and detach across both datapaths.
  private let deployment: ProgramDeployment
  /// The swap `b` carries out (by default ``ProgramDeployment/swap(interface:)``).
  private let swapForm: (String) throws -> AttachmentRecord
  private let traffic: any TrafficSource
  private let listInterfaces: () throws -> InterfaceInventory
  private let kernelSupport: KernelBatchSupport
  private let choices: [AttachChoice]
  /// Keeps the kernel's run statistics on while the console runs.
  private let statistics: RunStatistics?
  private let clock: () -> Double
  private var receiveRates: ReceiveRates
  private let programDetails: (UInt32) -> KernelProgramDetails?
  /// The details of the foreign program on the selected interface, read
  /// at the inventory's pace.
  private var foreignDetails: (id: UInt32, details: KernelProgramDetails)?

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
  ///
  /// - Parameters:
  ///   - deployment: what the keys that act (attach, swap, strategy,
  ///     detach) go through, as the command line's commands do.
  ///   - traffic: where the counters come from; by default the kernel,
  ///     through `deployment`'s pins kept open between samples.
  ///   - interfaces: the interface listing; by default a netlink dump.
  ///   - kernelSupport: what the console says about batch XDP in the
  ///     kernel; by default a BTF probe at `deployment.btfPath`.
  ///   - choices: the attach chooser's entries; by default the bundled
  ///     sample objects (``SampleCatalog``).
  ///   - runStatistics: whether to turn the kernel's per-program run
  ///     statistics on while the session lives (the ns/pkt figures).
  ///   - clock: seconds on a monotonic clock.
  ///   - receivedPackets: an interface's received-packet counter; by
  ///     default its `statistics/rx_packets` in sysfs.
  ///   - programDetails: what the kernel knows about a program another
  ///     tool attached, by id; by default ``ProgramDetails/read(id:)``.
  ///   - datapathExecutable: the `xdpbatch` executable a software datapath
  ///     runs as; by default this process's own.
  ///   - swap: what `b` carries out on an interface; by default
  ///     ``ProgramDeployment/swap(interface:)``, as `xdpbatch swap`.
  public init(
    interface: String?, deployment: ProgramDeployment = ProgramDeployment(),
    traffic: (any TrafficSource)? = nil,
    interfaces: @escaping () throws -> InterfaceInventory = { try InterfaceInventory.query() },
    kernelSupport: KernelBatchSupport? = nil, choices: [AttachChoice]? = nil,
    runStatistics: Bool = true,
    clock: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime },
    receivedPackets: @escaping (String) -> UInt64? = ReceiveRates.sysfsCounter,
    programDetails: @escaping (UInt32) -> KernelProgramDetails? = KernelProgramDetails.read,
    datapathExecutable: String = Processes.currentExecutable,
    swap: ((String) throws -> AttachmentRecord)? = nil
  ) {
    var deployment = deployment
    deployment.executable = datapathExecutable
    let datapaths = deployment
    swapForm = swap ?? { interface in try datapaths.swap(interface: interface) }
    receiveRates = ReceiveRates(counter: receivedPackets)
    self.programDetails = programDetails
    self.deployment = deployment
    self.traffic = traffic ?? PinnedTraffic(deployment: deployment)
    listInterfaces = interfaces
    self.clock = clock
    self.choices = choices ?? SampleCatalog.choices()
    statistics = runStatistics ? try? RunStatistics.enable() : nil
    self.kernelSupport = kernelSupport ?? .probe(btfPath: deployment.btfPath)
    if let interface {
      selected = interface
    } else {
      let demo = Demo(state: deployment.state)
      selected = demo.status().isUp ? demo.veth.name : nil
    }
  }

  /// The snapshot for this frame.
  public func snapshot() -> ConsoleSnapshot {
    let now = clock()
    var changed = false
    if now - inventoryReadAt >= Self.inventoryInterval {
      refreshInventory(at: now)
      changed = true
    }
    // A newly selected interface is read at once, then once a second.
    if let selected, watch?.interface != selected {
      watch = TrafficWatch(interface: selected)
    }
    if selected != nil, now - (watch?.sampledAt ?? -.infinity) >= Self.sampleInterval {
      watch?.sample(from: traffic, at: now)
      changed = true
    }
    if !changed, let cached { return cached }
    let snapshot = makeSnapshot()
    cached = snapshot
    return snapshot
  }

  /// Carries out `command`; a failure is thrown with the deployment's message
  /// (the console shows it in the error colour), success becomes news.
  public func execute(_ command: Console.ConsoleCommand) throws {
    do {
      try carryOut(command)
    } catch let error as DeploymentError {
      throw Self.failure(error)
    }
  }

  private static func failure(_ error: DeploymentError) -> CommandFailure {
    if case .attach(.load(let load)) = error, let log = load.verifierLog {
      return CommandFailure(message: "\(error)", detail: "verifier log:\n" + log)
    }
    return CommandFailure(message: "\(error)")
  }

  private func carryOut(_ command: Console.ConsoleCommand) throws {
    switch command {
    case .select(let interface):
      selected = interface
      news = nil
    case .attach(let interface, let objectPath, let program):
      let source =
        try program.map { ProgramSource(objectPath: objectPath, programName: $0) }
        ?? ProgramSource.firstXDPProgram(in: objectPath)
      // Through the datapaths: a software datapath running there stops first.
      let record = try deployment.attach(
        source, to: interface, mode: .native, datapath: .kernel, form: .perPacket)
      // On the demo's interface a redirecting sample gets its target.
      let demo = Demo(state: deployment.state)
      if interface == demo.veth.name { try demo.fillRedirectMaps() }
      news = .info(
        "attached \(record.program) (\(record.form.rawValue), \(record.attachMode.rawValue)) to \(interface)"
      )
    case .swapMode(let interface):
      let before = currentRecord(interface)?.isSoftware
      // A move between datapaths keeps the program's maps (the demo's
      // DEVMAP included; docs/DESIGN.md, "Maps on the software datapath").
      let record = try swapForm(interface)
      let place = record.isSoftware ? "the software datapath (AF_XDP)" : "the kernel"
      news = .info(
        before != nil && before != record.isSoftware
          ? "\(interface) moved to \(place): \(record.program) runs \(record.form.rawValue)"
          : "\(interface) now runs \(record.program) \(record.form.rawValue) in \(place)")
    case .cycleStrategy(let interface):
      if currentRecord(interface)?.isSoftware == true {
        throw CommandFailure(
          message:
            "the software datapath on \(interface) keeps the strategy it started with; nothing was changed (b back to the kernel, then s)"
        )
      }
      let record = try deployment.cycleStrategy(interface: interface)
      news = .info(
        "batch form of \(record.program) uses the \(record.strategy.rawValue) strategy (b swaps)"
      )
    case .detach(let interface):
      try deployment.detach(interface: interface)
      news = .info("detached xdpbatch's program from \(interface)")
    case .detachForeign(let interface, let programID):
      // xdpbatch's own program without a record looks foreign to the console.
      guard
        try deployment.foreignPrograms(interface: interface).contains(where: { $0.id == programID })
      else {
        try deployment.detach(interface: interface)
        news = .info("detached xdpbatch's program from \(interface)")
        break
      }
      let detached = try deployment.detachForeign(interface: interface, programID: programID)
      let names = detached.map { "\($0.name ?? "program") #\($0.id)" }.joined(separator: ", ")
      news = .info("detached \(names) (attached by another tool) from \(interface)")
      foreignDetails = nil
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
    watch?.refreshRecord(from: traffic)
    cached = nil
  }

  /// The record of what runs on `interface`: the watched one, else the file.
  private func currentRecord(_ interface: String) -> AttachmentRecord? {
    if let watch, watch.interface == interface, let record = watch.record { return record }
    return deployment.state.record(interface: interface)
  }

  private func refreshInventory(at now: Double) {
    inventoryReadAt = now
    do {
      let listed = try listInterfaces()
      inventory = listed
      inventoryProblem = nil
      receiveRates.record(listed.interfaces.map(\.name), at: now)
      readForeignDetails(in: listed)
    } catch {
      inventoryProblem = .error("cannot list interfaces: \(error)")
    }
  }

  /// Reads the kernel's view of the selected interface's program when
  /// xdpbatch did not attach it (no record of ours runs there).
  private func readForeignDetails(in inventory: InterfaceInventory) {
    guard let selected, watch?.record == nil,
      let program = inventory.interfaces.first(where: { $0.name == selected })?.program
    else {
      foreignDetails = nil
      return
    }
    foreignDetails = programDetails(program.id).map { (program.id, $0) }
  }

  private func makeSnapshot() -> ConsoleSnapshot {
    let listing = InterfaceListing(
      inventory ?? InterfaceInventory(interfaces: [], reportsXDPFeatures: false), includeAll: true)
    var snapshot = ConsoleSnapshot(listing: listing)
    for index in snapshot.interfaces.indices {
      let name = snapshot.interfaces[index].name
      snapshot.interfaces[index].receivePacketsPerSecond = receiveRates.rate(of: name)
      if name == selected, let foreign = foreignDetails,
        snapshot.interfaces[index].program?.id == foreign.id
      {
        snapshot.interfaces[index].program?.details = foreign.details
      }
    }
    snapshot.selectedInterface = selected
    snapshot.kernelBatchSupport = kernelSupport
    snapshot.attachChoices = choices
    if let watch, watch.interface == selected {
      snapshot.traffic = watch.traffic
      snapshot.history = watch.history
      snapshot.program = watch.record.map { record in
        ProgramStatus(
          record, counts: rewrites.counts(of: record),
          nanosecondsPerPacket: watch.nanosecondsPerPacket, datapath: watch.datapath,
          datapathNanosecondsPerPacket: watch.datapathNanosecondsPerPacket,
          softwareEngine: watch.softwareNanosecondsPerPacket.isEmpty
            ? nil : watch.softwareEngine ?? "engine",
          kernelNanosecondsPerPacket: watch.kernelNanosecondsPerPacket,
          batchInKernel: ProgramStatus.batchInKernel(
            record, kernel: kernelSupport, interface: inventory?[name: record.interface]))
      }
    }
    if let selected {
      snapshot.maps = MapPanel.read(interface: selected, state: deployment.state)
      snapshot.perCPU =
        (try? InterfaceProgram.attached(to: selected))?.perCPUActionCounts()?.cpus ?? []
    }
    let listed = selected.map { name in listing.interfaces.contains { $0.name == name } } ?? true
    snapshot.status =
      inventoryProblem ?? watch?.problem ?? news
      ?? (listed ? nil : .error("no interface named \(selected ?? "")"))
      ?? listing.notices.first.map { .info($0) }
      ?? .info("\(listing.interfaces.filter(\.isI40e).count) i40e port(s); ? shows the keys")
    return snapshot
  }
}
