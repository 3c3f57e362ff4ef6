import BPF
import Datapath
import Engine
import Foundation
import Kernel
import Synchronization

/// The reference the software datapath is measured against (`bench`): the
/// same kernel half and AF_XDP sockets as ``SoftwareDatapath``, but no
/// program and no verdicts. Each queue's loop takes up to 64 frames off
/// the RX ring and either recycles them to the fill ring or sends them
/// back on the TX ring, so its rate is what AF_XDP itself allows.
///
/// Two loops read each frame as the programs do, for references that
/// compare like with like (``Work/readHeaders``, ``Work/mixSends``): the
/// same prefetch of each frame's first cache line as the datapath's
/// worker, the same header bytes the program reads, decided in Swift
/// (``BareSocketLoop+Headers.swift``), and for the mix the same gathered
/// PASS and REDIRECT sends (``GatheredSends``).
public final class BareSocketLoop: @unchecked Sendable {
  /// What the loop does with each frame.
  public enum Work: String, Sendable, CaseIterable {
    /// Back to the fill ring (what DROP costs at best).
    case recycle
    /// Out of the same socket's TX ring (what TX costs at best).
    case sendBack = "send-back"
    /// xdp_classify's TX and DROP ring work on the ``InterleavedMix``:
    /// the frames the mix makes TX (2 in 8, by the queue's frame count)
    /// sent back, the others recycled. Its PASS and REDIRECT frames'
    /// sends have no counterpart here: they are the datapath's own work.
    case mix
    /// Recycles every frame after reading the bytes xdp1 reads (the
    /// EtherType behind up to two VLAN tags, then the IPv4 protocol or the
    /// IPv6 next header) and counting it by that protocol, as xdp1 does
    /// (``protocolCounts``): xdp1's work without the engine.
    case readHeaders = "read-headers"
    /// xdp_classify's decisions on each frame's header and its whole
    /// ring and send work: TX sent back, DROP and ABORTED recycled, PASS
    /// and REDIRECT gathered and sent as the datapath sends them
    /// (``GatheredSends``: a `sendmmsg` into a PASS device like the
    /// datapath's, and to ``redirectInterface``), counted per verdict
    /// (``verdictCounts``): xdp_classify's work without the engine.
    case mixSends = "mix-sends"

    /// The loops the bench measures at its start (the new references
    /// are measured beside the rows they are compared with).
    public static let sectionStart: [Work] = [.recycle, .sendBack, .mix]
  }

  /// Where ``Work/mixSends`` redirects: xdp_classify's target with its
  /// `redirect_ifindex` map empty (ifindex 1).
  public static let redirectInterface: UInt32 = 1

  /// What the loop does.
  public let work: Work
  let kernel: KernelSide
  let queues: [Queue]
  private let stopping = Atomic<Bool>(false)
  private let finished = DispatchGroup()

  /// One receive queue's socket and count.
  final class Queue: @unchecked Sendable {
    let socket: QueueSocket
    let space: AddressSpace
    let handled = Atomic<UInt64>(0)
    /// Nanoseconds spent on non-empty RX batches, the span the software
    /// datapath times (`path ns`): from frames found on the RX ring to
    /// their release.
    let busyNanoseconds = Atomic<UInt64>(0)
    /// Non-empty RX batches taken.
    let batches = Atomic<UInt64>(0)
    /// Frames taken so far, for ``Work/mix`` (the loop's thread only).
    var sequence: UInt64 = 0
    /// The reading loops' batch: frames and what becomes of each.
    let frames = UnsafeMutablePointer<QueueSocket.ReceivedFrame>.allocate(
      capacity: LiveFrameRunner.maximumBatch)
    let dispositions = UnsafeMutablePointer<QueueSocket.Disposition>.allocate(
      capacity: LiveFrameRunner.maximumBatch)
    let decided = UnsafeMutablePointer<XDPAction>.allocate(capacity: LiveFrameRunner.maximumBatch)
    /// Frames per IP protocol (``Work/readHeaders``) and per verdict
    /// (``Work/mixSends``), written by the loop's thread only.
    let protocols = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
    let verdicts = UnsafeMutablePointer<UInt64>.allocate(capacity: XDPAction.allCases.count)
    /// ``Work/mixSends``' PASS and REDIRECT frames waiting for their send.
    var sends: GatheredSends?

    init(socket: QueueSocket, space: AddressSpace) {
      self.socket = socket
      self.space = space
      protocols.initialize(repeating: 0, count: 256)
      verdicts.initialize(repeating: 0, count: XDPAction.allCases.count)
    }

    deinit {
      frames.deallocate()
      dispositions.deallocate()
      decided.deallocate()
      protocols.deallocate()
      verdicts.deallocate()
    }
  }

  private init(work: Work, kernel: KernelSide, queues: [Queue]) {
    self.work = work
    self.kernel = kernel
    self.queues = queues
  }

  /// Installs the datapath's kernel half on `interface` (with `fallback`
  /// as the program the kernel runs when no socket is registered), binds
  /// a socket to every receive queue and starts one loop each. The pins
  /// stay until ``SoftwareDatapath/removeLeftovers(interface:state:keepCounters:)``
  /// and a detach remove them.
  public static func start(
    interface: String, fallback: ProgramSpec, work: Work, mode: AttachMode = .native,
    pacing: RXPacing? = nil
  ) throws(DatapathError) -> BareSocketLoop {
    let count = NetworkInterface.receiveQueues(of: interface)
    guard count > 0 else {
      throw .socket(
        interface: interface, queue: 0, step: "find the receive queues", errno: .noDevice)
    }
    var queues: [Queue] = []
    for queue in 0..<UInt32(count) {
      let space: AddressSpace
      do {
        space = try AddressSpace()
      } catch {
        throw .socket(
          interface: interface, queue: queue, step: "make an address space (\(error))",
          errno: .outOfMemory)
      }
      let socket = try QueueSocket(interface: interface, queue: queue, space: space)
      socket.pacing = pacing
      queues.append(Queue(socket: socket, space: space))
    }
    let kernel = try KernelSide.install(fallback, on: interface, mode: mode)
    do {
      for queue in queues {
        try kernel.register(socket: queue.socket.descriptor, queue: queue.socket.queue)
      }
    } catch {
      for queue in queues { queue.socket.close() }
      throw .kernel(error)
    }
    if work == .mixSends {
      // One PASS device for the queues, as the datapath has.
      do {
        let first = try GatheredSends.passing(into: interface)
        queues[0].sends = first
        for queue in queues.dropFirst() { queue.sends = first.sharingPassDevice() }
      } catch {
        for queue in queues { queue.socket.close() }
        throw error
      }
    }
    let loop = BareSocketLoop(work: work, kernel: kernel, queues: queues)
    for queue in queues {
      loop.finished.enter()
      let thread = Thread { [loop] in
        loop.run(queue)
        loop.finished.leave()
      }
      thread.name = "xdpbatch bare queue \(queue.socket.queue)"
      thread.start()
    }
    return loop
  }

  /// Frames taken off the RX rings so far.
  public var framesHandled: UInt64 {
    queues.reduce(0) { $0 &+ $1.handled.load(ordering: .relaxed) }
  }

  /// Nanoseconds per frame the loops spent on non-empty batches (the
  /// span of the software datapath's `path ns`), or nil before a frame.
  public var busyNanosecondsPerFrame: Double? {
    let frames = framesHandled
    guard frames > 0 else { return nil }
    let busy = queues.reduce(0) { $0 &+ $1.busyNanoseconds.load(ordering: .relaxed) }
    return Double(busy) / Double(frames)
  }

  /// Non-empty RX batches taken so far.
  public var batchesTaken: UInt64 {
    queues.reduce(0) { $0 &+ $1.batches.load(ordering: .relaxed) }
  }

  /// Frames per non-empty RX batch, or nil before a frame: the software
  /// datapath's rows are compared with the loop at the same batch sizes.
  public var framesPerBatch: Double? {
    let batches = batchesTaken
    return batches == 0 ? nil : Double(framesHandled) / Double(batches)
  }

  /// Whether the ``InterleavedMix``'s frame `n` is one xdp_classify
  /// transmits (UDP to port 7).
  @inline(__always) static func transmitsInMix(_ n: UInt64) -> Bool {
    let variant = InterleavedMix.variant(of: UInt32(truncatingIfNeeded: n))
    return variant == 3 || variant == 4
  }

  /// The sockets' `XDP_STATISTICS`, added.
  public var socketStatistics: SocketStatistics {
    var total = SocketStatistics()
    for queue in queues { total.add(queue.socket.statistics()) }
    return total
  }

  /// Stops the loops, waits for them and closes the sockets (the kernel
  /// fallback takes the frames again).
  public func stop() {
    stopping.store(true, ordering: .relaxed)
    finished.wait()
    for queue in queues { queue.socket.close() }
    queues.first?.sends?.removePassDevice()
  }

  /// The longest wait for frames while others are gathered (the
  /// datapath's worker's).
  static let idleWait: UInt64 = 20_000_000

  /// Frames counted per IP protocol (index 0 to 255, as xdp1's `rxcnt`)
  /// by ``Work/readHeaders``; exact once the loop stopped.
  public var protocolCounts: [UInt64] {
    (0..<256).map { index in queues.reduce(0) { $0 &+ $1.protocols[index] } }
  }

  /// What ``Work/mixSends``' sends cost in system calls so far (zero for
  /// the other loops).
  public var slowPath: SlowPathCalls {
    var total = SlowPathCalls()
    for queue in queues {
      guard let calls = queue.sends?.slowPath else { continue }
      total.passFrames &+= calls.passFrames
      total.passCalls &+= calls.passCalls
      total.redirectFrames &+= calls.redirectFrames
      total.redirectCalls &+= calls.redirectCalls
    }
    return total
  }

  /// Frames per verdict decided by ``Work/mixSends``; exact once the loop
  /// stopped.
  public var verdictCounts: [XDPAction: UInt64] {
    var counts: [XDPAction: UInt64] = [:]
    for action in XDPAction.allCases {
      let count = queues.reduce(0) { $0 &+ $1.verdicts[Int(action.rawValue)] }
      if count > 0 { counts[action] = count }
    }
    return counts
  }

  private func run(_ queue: Queue) {
    // What is gathered at the stop goes before the sockets close.
    defer { Self.sendGathered(queue) }
    let socket = queue.socket
    while !stopping.load(ordering: .relaxed) {
      socket.recycleCompletions()
      var index: UInt32 = 0
      let count = socket.peekReceived(at: &index)
      guard count > 0 else {
        if let sends = queue.sends, sends.count > 0 {
          // As the datapath's worker: gathered frames go once due, or
          // once the ring stayed empty that long.
          let wait = min(sends.remaining(now: MonotonicClock.nanoseconds()), Self.idleWait)
          if wait > 0, socket.socket.waitReadable(microseconds: Int(wait / 1000) + 1) { continue }
          if sends.remaining(now: MonotonicClock.nanoseconds()) == 0 {
            let start = MonotonicClock.nanoseconds()
            Self.sendGathered(queue)
            queue.busyNanoseconds.add(MonotonicClock.nanoseconds() &- start, ordering: .relaxed)
          }
        } else {
          socket.idle()
        }
        continue
      }
      let start = MonotonicClock.nanoseconds()
      switch work {
      case .recycle:
        guard socket.recycleReceived(from: index, count: count) else {
          socket.cancelReceived(count)
          continue
        }
      case .sendBack:
        guard socket.sendBackReceived(from: index, count: count) else {
          socket.cancelReceived(count)
          continue
        }
      case .mix:
        let first = queue.sequence
        guard
          socket.sendBackOrRecycle(
            from: index, count: count,
            sendsBack: { entry in
              Self.transmitsInMix(first &+ UInt64(entry))
            })
        else {
          socket.cancelReceived(count)
          continue
        }
        queue.sequence &+= UInt64(count)
      case .readHeaders:
        socket.takeReceived(from: index, count: count, space: queue.space, into: queue.frames)
        for entry in 0..<Int(count) {
          if let ipProtocol = Self.ipProtocol(queue.frames[entry]) {
            queue.protocols[ipProtocol] &+= 1
          }
        }
        guard socket.recycleReceived(from: index, count: count) else {
          socket.cancelReceived(count)
          continue
        }
      case .mixSends:
        guard Self.classifyAndSettle(queue, from: index, count: count, now: start) else {
          socket.cancelReceived(count)
          continue
        }
      }
      socket.releaseReceived(count)
      if let sends = queue.sends, sends.isDue(now: MonotonicClock.nanoseconds()) {
        Self.sendGathered(queue)
      }
      queue.busyNanoseconds.add(MonotonicClock.nanoseconds() &- start, ordering: .relaxed)
      queue.handled.add(UInt64(count), ordering: .relaxed)
      queue.batches.add(1, ordering: .relaxed)
    }
  }
}
