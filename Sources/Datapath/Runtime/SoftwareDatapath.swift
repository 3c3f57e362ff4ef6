import BPF
import Engine
import Foundation
import Glibc
import Kernel
import Rewriter
import Synchronization

/// The software datapath of one interface: an AF_XDP socket per receive
/// queue, each with its own engine machine running the user's program per
/// packet or per batch, the kernel half (``KernelSide``) steering frames
/// to the sockets, and a control socket for status, swap and stop.
///
/// The program's maps are the kernel's (``SharedMaps``): arrays mapped
/// into every engine, the others exchanged by each queue every 50 ms
/// (``MapExchange``). Counters are flushed to the pinned
/// ``DatapathCounters`` every 50 ms.
public final class SoftwareDatapath: @unchecked Sendable {
  /// What it runs.
  public let configuration: DatapathConfiguration
  /// Why the batch form is unavailable, when it is.
  public let batchRefusal: String?
  let kernel: KernelSide
  let workers: [QueueWorker]
  let state: DatapathState
  let pass: PassDevice
  let control: ControlSocket
  let sharedMaps: SharedMaps
  /// What the programs printed (`trace` on the control socket).
  let trace: TraceFeed
  private let base: DatapathCounters.Totals
  private let startedAt = Date()
  private let finished = DispatchGroup()
  private let stopOnce = Mutex(false)

  private init(
    configuration: DatapathConfiguration, batchRefusal: String?, kernel: KernelSide,
    workers: [QueueWorker], state: DatapathState, pass: PassDevice, control: ControlSocket,
    sharedMaps: SharedMaps, trace: TraceFeed, base: DatapathCounters.Totals
  ) {
    self.trace = trace
    self.sharedMaps = sharedMaps
    self.configuration = configuration
    self.batchRefusal = batchRefusal
    self.kernel = kernel
    self.workers = workers
    self.state = state
    self.pass = pass
    self.control = control
    self.base = base
  }

  /// Removes what a datapath of `interface` that is no longer running
  /// left: its control socket file and its pins (sockets map, fallback,
  /// datapath counters). The link and action counters are the
  /// attachment's. Sockets and the TAP device went with the process.
  /// With `keepCounters` the datapath's counter records stay (the
  /// interface's totals then stay continuous while it remains attached).
  public static func removeLeftovers(
    interface: String, state: StateDirectory = StateDirectory(), keepCounters: Bool = false
  ) {
    let path = ControlSocket.path(interface, state)
    if (try? DatapathClient(path: path).request("status")) == nil { unlink(path) }
    DatapathPins(interface: interface).remove(keepCounters: keepCounters)
  }

  /// Sets everything up and starts the workers. On failure nothing of the
  /// datapath's own is left (sockets, TAP device, control socket, pins
  /// this call made).
  public static func start(_ configuration: DatapathConfiguration) throws(DatapathError)
    -> SoftwareDatapath
  {
    let interface = configuration.interface
    guard let index = NetworkInterface.index(of: interface) else {
      throw .interfaceNotFound(interface)
    }
    let object: BPFObject
    let linked: Program
    do {
      object = try BPFObject(contentsOf: configuration.objectPath)
      linked = try object.program(named: configuration.programName)
    } catch {
      throw .object(error)
    }
    var batchProgram: Program?
    var refusal: String?
    do {
      batchProgram = try BatchTrampoline(
        strategy: configuration.strategy, bound: configuration.bound,
        batchSize: LiveFrameRunner.maximumBatch
      ).rewrite(linked).program
    } catch {
      refusal =
        "\(configuration.objectPath): program \(linked.name) has no batch form: \(error)"
    }
    if configuration.form == .batch, let refusal { throw .batchUnavailable(refusal) }
    let queues = NetworkInterface.receiveQueues(of: interface)
    guard queues > 0 else {
      throw .socket(
        interface: interface, queue: 0, step: "find the receive queues", errno: .noDevice)
    }
    let control = try ControlSocket(path: ControlSocket.path(interface, configuration.state))
    let pass = try PassDevice(interface: interface, index: index)
    let state = DatapathState(form: configuration.form)
    let trace = TraceFeed(capacity: configuration.traceCapacity)
    var workers: [QueueWorker] = []
    for queue in 0..<UInt32(queues) {
      let machine: Machine
      let forms: ProgramForms
      let runner: LiveFrameRunner
      do {
        machine = try Machine(
          maps: object.maps, configuration: MachineConfiguration(engine: configuration.engine))
        forms = ProgramForms(
          perPacket: try machine.prepare(linked),
          batch: try batchProgram.map { program throws(PreparationError) in
            try machine.prepare(program, form: .batch)
          },
          padded: configuration.bound == .immediate ? LiveFrameRunner.maximumBatch : nil)
        runner = try LiveFrameRunner(machine: machine, ingressInterface: index, receiveQueue: queue)
      } catch {
        throw .engine(program: linked.name, reason: "\(error)")
      }
      let socket = try QueueSocket(interface: interface, queue: queue, space: machine.addressSpace)
      socket.pacing = configuration.rxPacing
      workers.append(
        QueueWorker(
          socket: socket, machine: machine, runner: runner, forms: forms, pass: pass, state: state,
          trace: trace, groupActions: configuration.groupActions,
          sendLatency: configuration.sendLatency))
    }
    let kernel = try KernelSide.install(
      configuration.fallback, on: interface, mode: configuration.attachMode)
    // The program's maps are the fallback's: arrays mapped into every
    // engine now, the others exchanged by each worker.
    var sharedMaps = SharedMaps(
      fallbackMaps: kernel.fallbackMaps, definitions: object.maps,
      shared: configuration.sharedMaps)
    try sharedMaps.share(into: workers.map(\.machine), program: linked.name)
    let base: DatapathCounters.Totals
    do {
      base = try kernel.counters.read()
      for worker in workers {
        try kernel.register(socket: worker.socket.descriptor, queue: worker.socket.queue)
      }
    } catch {
      throw .kernel(error)
    }
    // Each engine's first read of the exchanged maps: after the sockets
    // took the frames from the fallback, before any worker runs one.
    for worker in workers {
      let exchange = MapExchange(sharedMaps, machine: worker.machine)
      if exchange.isNeeded { worker.exchange = exchange }
    }
    let datapath = SoftwareDatapath(
      configuration: configuration, batchRefusal: refusal, kernel: kernel, workers: workers,
      state: state, pass: pass, control: control, sharedMaps: sharedMaps, trace: trace,
      base: base)
    datapath.launch()
    return datapath
  }

  private func launch() {
    let queues = DispatchGroup()
    for worker in workers {
      finished.enter()
      queues.enter()
      let thread = Thread { [finished] in
        worker.run()
        queues.leave()
        finished.leave()
      }
      thread.name = "xdpbatch queue \(worker.socket.queue)"
      thread.start()
    }
    finished.enter()
    let flusher = Thread { [self] in
      while !state.stopping.load(ordering: .relaxed) {
        usleep(UInt32(Self.flushMilliseconds) * 1000)
        flush()
        if let error = state.takeError() {
          FileHandle.standardError.write(Data("xdpbatch datapath: engine: \(error)\n".utf8))
        }
        logTrace()
      }
      // The queues' last frames (they drain their rings when stopping) are counted too.
      queues.wait()
      flush()
      logTrace()
      finished.leave()
    }
    flusher.name = "xdpbatch counters"
    flusher.start()
    control.serve(self)
  }

  /// How often the counters are written to their pin.
  static let flushMilliseconds = 50

  /// Writes the counters now (what this process counted plus what the map
  /// held when it started).
  public func flush() {
    var totals = base
    for worker in workers { totals.add(worker.published.withLock { $0.totals }) }
    try? kernel.counters.write(totals)
  }

  /// Switches the form for the next RX batch; `nil` toggles. Refused when
  /// the program has no batch form.
  @discardableResult
  public func swap(to form: Form? = nil) throws(DatapathError) -> Form {
    let next = form ?? (state.form == .batch ? .perPacket : .batch)
    if next == .batch, let batchRefusal { throw .batchUnavailable(batchRefusal) }
    state.form = next
    return next
  }

  /// The form the next RX batch runs in.
  public var form: Form { state.form }

  /// What the datapath is doing now.
  public func status() -> DatapathStatus {
    var totals = base
    var timing = TimingByForm()
    var comparison = TimingByForm()
    var slowPath = SlowPathCalls()
    var socket = SocketStatistics()
    var failures = RedirectFailures()
    var errors = RedirectErrors()
    var fallback: String?
    var mapProblem: String?
    var exchange = MapExchangeTotals()
    for worker in workers {
      let report = worker.published.withLock { $0 }
      fallback = fallback ?? report.engineFallback
      mapProblem = mapProblem ?? report.mapProblem
      exchange.exchanges &+= report.exchanges
      exchange.nanoseconds &+= report.exchangeNanoseconds
      totals.add(report.totals)
      timing.add(report.timing)
      comparison.add(report.comparison)
      slowPath.add(report.slowPath)
      failures.add(report.redirectFailures)
      errors.add(report.redirectErrors)
      socket.add(worker.socket.statistics())
    }
    return DatapathStatus(
      interface: configuration.interface, object: configuration.objectPath,
      program: configuration.programName, datapath: "software", form: state.form,
      strategy: configuration.strategy.rawValue, bound: configuration.bound.rawValue,
      batchAvailable: batchRefusal == nil, zeroCopy: workers.allSatisfy(\.socket.zeroCopy),
      queues: workers.count, pid: getpid(), started: startedAt.timeIntervalSince1970,
      passDevice: pass.name, counters: totals, socket: socket, forms: timing,
      comparison: comparison, slowPath: slowPath,
      redirectFailures: failures, redirectErrors: errors,
      followedMaps: sharedMaps.sharedNames,
      followProblem: mapProblem ?? sharedMaps.problem, mapSharing: sharedMaps.sharingByName,
      mapExchange: exchange,
      engine: configuration.engine,
      engineFallback: fallback,
      groupActions: configuration.groupActions)
  }

  /// Stops the workers after their current batch, flushes the counters and
  /// closes the control socket. The sockets close with the datapath, and
  /// the kernel fallback takes the interface's frames again.
  public func stop() {
    let first = stopOnce.withLock { stopped in
      defer { stopped = true }
      return !stopped
    }
    guard first else { return }
    state.stopping.store(true, ordering: .relaxed)
    control.close()
  }

  /// Waits until ``stop()`` has taken effect: the workers are done, their
  /// sockets closed and the TAP device gone.
  public func wait() {
    finished.wait()
    for worker in workers { worker.socket.close() }
    pass.remove()
  }
}
