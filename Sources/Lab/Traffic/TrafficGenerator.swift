import Deployment
import Kernel
import BPF
import CLinux
import Foundation
import Glibc
import Synchronization

/// Sends real frames out of an interface from a background thread, using
/// `BPF_PROG_TEST_RUN` with `BPF_F_TEST_XDP_LIVE_FRAMES`: a tiny XDP
/// program of our own returns `XDP_TX` for each frame, and the kernel
/// transmits it from the interface, as if it had been received there and
/// bounced.
///
/// On a veth end, the frames arrive at the other end, where the program
/// under test runs.
public final class TrafficGenerator: Sendable {
  /// What to send, and from where.
  public struct Configuration: Sendable {
    /// The frames, sent in turn.
    public var frames: [FrameTemplate]
    /// The interface to send from.
    public var interface: String
    /// The namespace the interface lives in; `nil` for the caller's.
    public var namespace: NetworkNamespace?
    /// Frames per test run (each run sends one template this many times).
    public var framesPerRun: UInt32
    /// Stop after this many frames; `nil` to send until ``stop()``.
    public var limit: UInt64?
    /// Frames per second to aim at; `nil` for as fast as the kernel sends.
    public var framesPerSecond: Double?
    /// Full speed: one sending thread per CPU, each in one test run with
    /// a very large repeat count that ``stop()`` ends with a signal (the
    /// run returns EINTR). Each `BPF_PROG_TEST_RUN` with live frames swaps
    /// the XDP dispatcher (an RCU grace period), so many small runs mostly
    /// wait; one long run does not. ``framesSent`` then counts only runs
    /// that completed, and ``limit`` and ``framesPerSecond`` are ignored.
    public var fullSpeed: Bool
    /// The XDP program each frame runs through before it is sent (it must
    /// return `XDP_TX`; it may rewrite the frame, which the kernel keeps
    /// between repeats): ``TrafficGenerator/transmitProgram`` by default.
    public var program: Program
    /// The maps ``program`` names by index (made for the generator).
    public var programMaps: [MapDefinition]
    /// Full speed: send from CPUs 0 to `senders - 1` only (nil: every
    /// CPU), leaving the others to the receiver.
    public var senders: Int?

    /// Describes a generator.
    public init(
      frames: [FrameTemplate], interface: String, namespace: NetworkNamespace? = nil,
      framesPerRun: UInt32 = 256, limit: UInt64? = nil, framesPerSecond: Double? = nil,
      fullSpeed: Bool = false, program: Program = TrafficGenerator.transmitProgram,
      programMaps: [MapDefinition] = [], senders: Int? = nil
    ) {
      self.senders = senders.map { max(1, $0) }
      self.program = program
      self.programMaps = programMaps
      self.fullSpeed = fullSpeed
      self.frames = frames
      self.interface = interface
      self.namespace = namespace
      self.framesPerRun = max(1, framesPerRun)
      self.limit = limit
      self.framesPerSecond = framesPerSecond.flatMap { $0 > 0 ? $0 : nil }
    }
  }

  /// Why the generator stopped early.
  public enum Failure: Error, Sendable, CustomStringConvertible {
    /// The configuration has no frame templates.
    case noFrames
    /// The namespace could not be entered.
    case plumbing(PlumbingError)
    /// The interface to send from does not exist (in that namespace).
    case interfaceNotFound(String)
    /// The generator's own program did not load.
    case load(LoadError)
    /// A test run failed.
    case send(SystemCallError)

    /// A message naming the step that failed.
    public var description: String {
      switch self {
      case .noFrames: "the traffic generator has no frames to send"
      case .plumbing(let error): error.description
      case .interfaceNotFound(let name): "traffic generator: no interface named \(name)"
      case .load(let error): "traffic generator: \(error)"
      case .send(let error): "traffic generator: \(error)"
      }
    }
  }

  /// The generator's own program: `r0 = XDP_TX; exit`.
  public static let transmitProgram = Program(
    name: "xdpbatch_gen", sectionName: "xdp",
    instructions: [.move(.r0, immediate: Int32(XDPAction.tx.rawValue)), .exit])

  private let configuration: Configuration
  private let sentFrames = Atomic<UInt64>(0)
  private let stopRequested = Atomic<Bool>(false)
  private let finished = Atomic<Bool>(false)
  private let failure = Mutex<Failure?>(nil)
  private let done = DispatchSemaphore(value: 0)
  /// Full speed: the sending threads, to interrupt with ``interruptSignal``.
  private let senders = Mutex<[pthread_t]>([])

  /// The signal that interrupts a full-speed run (a no-op handler, so that
  /// it is delivered as EINTR and never kills the process).
  static let interruptSignal = SIGUSR2
  private static let installHandler: Void = {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in }
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    sigaction(interruptSignal, &action, nil)
  }()

  private init(configuration: Configuration) {
    self.configuration = configuration
  }

  /// Starts sending on a new thread.
  public static func start(_ configuration: Configuration) -> TrafficGenerator {
    let generator = TrafficGenerator(configuration: configuration)
    let thread = Thread { generator.send() }
    thread.name = "xdpbatch traffic generator"
    thread.start()
    return generator
  }

  /// Frames handed to the kernel for transmission so far.
  public var framesSent: UInt64 { sentFrames.load(ordering: .relaxed) }

  /// Whether the generator is still sending.
  public var isRunning: Bool { !finished.load(ordering: .acquiring) }

  /// Asks the generator to stop after the current run, waits for it, and
  /// reports why it ended if it failed.
  @discardableResult
  public func stop() -> Failure? {
    stopRequested.store(true, ordering: .relaxed)
    if configuration.fullSpeed {
      // A signal that lands just before a run starts is missed: repeat it
      // until every sender has left its run.
      while isRunning {
        for thread in senders.withLock({ $0 }) { pthread_kill(thread, Self.interruptSignal) }
        usleep(5_000)
      }
    }
    return wait()
  }

  /// Waits until the generator ends (its limit reached, stopped, or
  /// failed) and reports the failure, if any.
  @discardableResult
  public func wait() -> Failure? {
    if isRunning {
      done.wait()
      done.signal()
    }
    return failure.withLock { $0 }
  }

  private func send() {
    defer {
      finished.store(true, ordering: .releasing)
      done.signal()
    }
    do {
      try run()
    } catch {
      failure.withLock { $0 = error }
    }
  }

  private func run() throws(Failure) {
    guard !configuration.frames.isEmpty else { throw .noFrames }
    if let namespace = configuration.namespace {
      do { try namespace.enter() } catch { throw .plumbing(error) }
    }
    let index = if_nametoindex(configuration.interface)
    guard index != 0 else { throw .interfaceNotFound(configuration.interface) }
    let program: LoadedProgram
    do {
      program = try ProgramLoader(maps: configuration.programMaps).load(configuration.program)
        .program
    } catch {
      throw .load(error)
    }
    if configuration.fullSpeed { return try runFullSpeed(program, index) }
    var next = 0
    let start = Date()
    while !stopRequested.load(ordering: .relaxed) {
      if let rate = configuration.framesPerSecond {
        let due = start.addingTimeInterval(Double(framesSent) / rate).timeIntervalSinceNow
        if due > 0 { usleep(UInt32(min(due, 0.1) * 1_000_000)) }
        if due > 0.1 { continue }
      }
      var count = UInt64(configuration.framesPerRun)
      if let limit = configuration.limit {
        count = min(count, limit - framesSent)
        if count == 0 { return }
      }
      let run = TestRun(
        frame: configuration.frames[next].bytes, repetitions: UInt32(count),
        interfaceIndex: index, liveFrames: true)
      do { _ = try run.run(program) } catch { throw .send(error) }
      sentFrames.add(count, ordering: .relaxed)
      next = (next + 1) % configuration.frames.count
    }
  }

  /// One thread per CPU, each pinned to its CPU and in one long run.
  private func runFullSpeed(_ program: LoadedProgram, _ index: UInt32) throws(Failure) {
    _ = Self.installHandler
    let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    let processors = min(online, configuration.senders ?? online)
    let group = DispatchGroup()
    for cpu in 0..<processors {
      group.enter()
      let thread = Thread { [self] in
        defer { group.leave() }
        // Threads of a dispatch queue block most signals, and new threads
        // inherit that: the interrupt must reach this one.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, Self.interruptSignal)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        senders.withLock { $0.append(pthread_self()) }
        if let namespace = configuration.namespace {
          do throws(PlumbingError) { try namespace.enter() } catch {
            failure.withLock { $0 = .plumbing(error) }
            return
          }
        }
        var mask = [UInt8](repeating: 0, count: 128)
        mask[cpu / 8] |= 1 << (cpu % 8)
        _ = sched_setaffinity(0, mask.count, mask)
        var next = cpu
        while !stopRequested.load(ordering: .relaxed) {
          let run = TestRun(
            frame: configuration.frames[next % configuration.frames.count].bytes,
            repetitions: UInt32(Int32.max), interfaceIndex: index, liveFrames: true)
          do throws(SystemCallError) {
            _ = try run.run(program)
            sentFrames.add(UInt64(Int32.max), ordering: .relaxed)
          } catch where error.errno == .interrupted {
            continue
          } catch {
            failure.withLock { $0 = .send(error) }
            return
          }
          next += 1
        }
      }
      thread.name = "xdpbatch traffic generator cpu \(cpu)"
      thread.start()
    }
    group.wait()
  }
}
