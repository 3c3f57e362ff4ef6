import Foundation
import Frames
import Glibc
import Kernel
import Synchronization

/// Sends real frames out of an interface from background threads, through
/// a raw AF_PACKET socket (``FrameSender``: `sendmmsg`, 64 frames a call,
/// past the qdisc layer).
///
/// On a veth end, the frames arrive at the other end, where the program
/// under test runs. The count is exact: a frame the peer cannot take
/// (its ring full) is refused by the send and sent again, so
/// ``framesSent`` is what left the interface.
///
/// (An earlier generator ran its frames through `BPF_PROG_TEST_RUN` with
/// `BPF_F_TEST_XDP_LIVE_FRAMES` and `XDP_TX`; kernels that refuse live
/// test runs (EPERM, seen on these machines' 6.18 kernels) left it with
/// nothing to send.)
public final class TrafficGenerator: Sendable {
  /// What to send, and from where.
  public struct Configuration: Sendable {
    /// The frames, sent in turn.
    public var frames: [FrameTemplate]
    /// The interface to send from.
    public var interface: String
    /// The namespace the interface lives in; `nil` for the caller's.
    public var namespace: NetworkNamespace?
    /// Frames of one template sent in a row before the next template.
    public var framesPerRun: UInt32
    /// Stop after this many frames; `nil` to send until ``stop()``.
    public var limit: UInt64?
    /// Frames per second to aim at; `nil` for as fast as the kernel sends.
    public var framesPerSecond: Double?
    /// Full speed: one sending thread per CPU (or per ``senders``), each
    /// pinned to its CPU; ``limit`` and ``framesPerSecond`` are ignored.
    public var fullSpeed: Bool
    /// Which template frame `n` of a sending thread is (`n` = 0, 1, ...);
    /// nil: runs of ``framesPerRun`` of each template in turn.
    public var order: (@Sendable (UInt64) -> Int)?
    /// Full speed: send from CPUs 0 to `senders - 1` only (nil: every
    /// CPU), leaving the others to the receiver.
    public var senders: Int?

    /// Describes a generator.
    public init(
      frames: [FrameTemplate], interface: String, namespace: NetworkNamespace? = nil,
      framesPerRun: UInt32 = 256, limit: UInt64? = nil, framesPerSecond: Double? = nil,
      fullSpeed: Bool = false, order: (@Sendable (UInt64) -> Int)? = nil,
      senders: Int? = nil
    ) {
      self.senders = senders.map { max(1, $0) }
      self.order = order
      self.fullSpeed = fullSpeed
      self.frames = frames
      self.interface = interface
      self.namespace = namespace
      self.framesPerRun = max(1, framesPerRun)
      self.limit = limit
      self.framesPerSecond = framesPerSecond.flatMap { $0 > 0 ? $0 : nil }
    }

    /// The template of frame `n` of a sending thread.
    func template(of n: UInt64) -> Int {
      if let order { return order(n) % frames.count }
      return Int((n / UInt64(framesPerRun)) % UInt64(frames.count))
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
    /// The socket could not be opened, or a send failed.
    case send(SystemCallError)

    /// A message naming the step that failed.
    public var description: String {
      switch self {
      case .noFrames: "the traffic generator has no frames to send"
      case .plumbing(let error): error.description
      case .interfaceNotFound(let name): "traffic generator: no interface named \(name)"
      case .send(let error): "traffic generator: \(error)"
      }
    }
  }

  private let configuration: Configuration
  private let sentFrames = Atomic<UInt64>(0)
  private let stopRequested = Atomic<Bool>(false)
  private let finished = Atomic<Bool>(false)
  private let failure = Mutex<Failure?>(nil)
  private let done = DispatchSemaphore(value: 0)
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
    if configuration.fullSpeed { return try runFullSpeed() }
    let start = Date()
    try sending(firstFrame: 0) { () throws(Failure) -> Int? in
      var count = FrameSender.batch
      if let rate = configuration.framesPerSecond {
        let due = start.addingTimeInterval(Double(framesSent) / rate).timeIntervalSinceNow
        if due > 0 {
          usleep(UInt32(min(due, 0.1) * 1_000_000))
          return 0
        }
        count = min(count, max(1, Int(rate / 100)))
      }
      if let limit = configuration.limit {
        guard framesSent < limit else { return nil }
        count = Int(min(UInt64(count), limit - framesSent))
      }
      return count
    }
  }

  /// One thread per CPU (or per ``Configuration/senders``), each pinned
  /// to its CPU and sending until stopped.
  private func runFullSpeed() throws(Failure) {
    let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    let processors = min(online, configuration.senders ?? online)
    let group = DispatchGroup()
    for cpu in 0..<processors {
      group.enter()
      let thread = Thread { [self] in
        defer { group.leave() }
        Processes.pinCallingThread(toCPU: cpu)
        do throws(Failure) {
          try sending(firstFrame: UInt64(cpu)) { FrameSender.batch }
        } catch {
          failure.withLock { $0 = error }
          stopRequested.store(true, ordering: .relaxed)
        }
      }
      thread.name = "xdpbatch traffic generator cpu \(cpu)"
      thread.start()
    }
    group.wait()
    if let error = failure.withLock({ $0 }) { throw error }
  }

  /// Sends from the calling thread (entering the namespace first) until
  /// stopped or `next` says nil; `next` gives how many frames to send
  /// now (0: none yet). Frame `n` of this thread, from `firstFrame`, is
  /// ``Configuration/template(of:)``.
  private func sending(firstFrame: UInt64, next: () throws(Failure) -> Int?) throws(Failure) {
    if let namespace = configuration.namespace {
      do { try namespace.enter() } catch { throw .plumbing(error) }
    }
    guard let index = NetworkInterface.index(of: configuration.interface) else {
      throw .interfaceNotFound(configuration.interface)
    }
    var sender: FrameSender
    do {
      sender = try FrameSender(interfaceIndex: index, interface: configuration.interface)
    } catch {
      throw .send(error)
    }
    let templates = configuration.frames.map { frame in
      let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.bytes.count, alignment: 8)
      bytes.copyBytes(from: frame.bytes)
      return UnsafeRawBufferPointer(bytes)
    }
    defer { for bytes in templates { bytes.deallocate() } }
    var n = firstFrame
    var idle = 0
    while !stopRequested.load(ordering: .relaxed) {
      guard let count = try next() else { return }
      guard count > 0 else { continue }
      let sent: Int
      do {
        sent = try sender.send(
          { templates[configuration.template(of: n + UInt64($0))] }, count: count,
          interface: configuration.interface)
      } catch {
        throw .send(error)
      }
      n += UInt64(sent)
      sentFrames.add(UInt64(sent), ordering: .relaxed)
      // The receiver's ring is full: give it the CPU for a moment.
      idle = sent == 0 ? idle + 1 : 0
      if idle > 0 { idle > 16 ? usleep(50) : sched_yield() }
    }
  }
}
