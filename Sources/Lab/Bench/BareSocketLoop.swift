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
  }

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

    init(socket: QueueSocket, space: AddressSpace) {
      self.socket = socket
      self.space = space
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
  }

  private func run(_ queue: Queue) {
    let socket = queue.socket
    while !stopping.load(ordering: .relaxed) {
      socket.recycleCompletions()
      var index: UInt32 = 0
      let count = socket.peekReceived(at: &index)
      guard count > 0 else {
        socket.idle()
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
      }
      socket.releaseReceived(count)
      queue.busyNanoseconds.add(MonotonicClock.nanoseconds() &- start, ordering: .relaxed)
      queue.handled.add(UInt64(count), ordering: .relaxed)
      queue.batches.add(1, ordering: .relaxed)
    }
  }
}
