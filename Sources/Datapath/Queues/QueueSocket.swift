import BPF
import Engine
import Kernel

/// One AF_XDP socket on one receive queue, with its UMEM: the frames live
/// in a region of the queue's engine address space (so the program runs
/// on them where the kernel put them), registered with the kernel at that
/// region's host address.
///
/// Besides the socket, the ring work every loop over a queue shares (the
/// datapath's ``QueueWorker``, the bench's bare loop): completions back to
/// the fill ring, an RX batch, frames back to the fill ring, copy-mode
/// kicks.
public final class QueueSocket {
  /// Bytes per UMEM frame (one page: 256 bytes of headroom, the packet,
  /// and the tailroom programs may grow into).
  public static let frameSize = 4096
  /// Frames per UMEM; the fill ring holds them all.
  static let frameCount = 4096
  /// Descriptors on the RX, TX and completion rings.
  static let ringSize: UInt32 = 2048
  /// The most frames one RX batch takes (the engine's batch).
  static let batchSize = UInt32(LiveFrameRunner.maximumBatch)
  /// Frames copy-mode TX sends per kick.
  static let framesPerKick = 32

  /// The interface.
  public let interface: String
  /// The receive queue.
  public let queue: UInt32
  /// The UMEM region in the engine's address space.
  let region: Region
  /// The socket.
  public let socket: XDPSocket
  /// Transmitted frames not yet back on the completion ring.
  var outstandingTransmits = 0

  /// Whether the socket runs zero-copy.
  public var zeroCopy: Bool { socket.zeroCopy }
  /// The socket's descriptor (registered in the sockets map).
  public var descriptor: Int32 { socket.descriptor }

  /// Maps the UMEM into `space` and binds a socket to `queue` of
  /// `interface`, then hands every frame to the fill ring.
  public init(interface: String, queue: UInt32, space: AddressSpace) throws(DatapathError) {
    self.interface = interface
    self.queue = queue
    let layout = XDPSocket.Layout(
      frameSize: Self.frameSize, frameCount: Self.frameCount, ringSize: Self.ringSize)
    do {
      region = try space.map(length: layout.bytes, name: "umem queue \(queue)")
    } catch {
      throw .socket(
        interface: interface, queue: queue, step: "map the UMEM (\(error))", errno: .outOfMemory)
    }
    guard let area = space.pointer(UInt64(region.start), count: layout.bytes) else {
      throw .socket(interface: interface, queue: queue, step: "map the UMEM", errno: .outOfMemory)
    }
    // No program reaches a frame outside the call that runs on it: the
    // worker's runner opens the frames of each call and closes them after.
    space.closePages(of: region)
    do {
      socket = try XDPSocket(interface: interface, queue: queue, area: area, layout: layout)
    } catch {
      throw .socket(interface: interface, queue: queue, step: error.step, errno: error.errno)
    }
  }

  /// Closes the socket (the kernel drops it from the sockets map) and
  /// unregisters the UMEM. Safe to call twice.
  public func close() { socket.close() }

  /// The socket's own drop counters.
  public func statistics() -> SocketStatistics { socket.statistics() }

  /// Whether `length` bytes at `address` (addresses of the engine's
  /// space) lie inside the UMEM frame `chunk` (an offset in the UMEM).
  @inline(__always) func isInside(
    chunk: UInt64, address: UInt32, length: UInt32
  ) -> Bool {
    let start = UInt64(region.start) &+ chunk
    return UInt64(address) >= start
      && UInt64(address) &+ UInt64(length) <= start &+ UInt64(Self.frameSize)
  }

  /// The UMEM frame (its first byte's offset) that `address` falls in.
  @inline(__always) static func chunk(_ address: UInt64) -> UInt64 {
    address & ~UInt64(frameSize - 1)
  }

  /// Returns transmitted frames to the fill ring.
  @inline(__always) public func recycleCompletions() {
    var index: UInt32 = 0
    let done = socket.completion.peek(Self.ringSize, at: &index)
    guard done > 0 else { return }
    var fillIndex: UInt32 = 0
    // The fill ring holds every frame of the UMEM: it always has room.
    guard socket.fill.reserve(done, at: &fillIndex) == done else { return }
    for entry in 0..<done {
      socket.fill.setAddress(
        Self.chunk(socket.completion.address(at: index &+ entry)), at: fillIndex &+ entry)
    }
    socket.fill.submit(done)
    socket.completion.release(done)
    outstandingTransmits -= Int(done)
  }

  /// When an RX batch is taken (nil: as soon as a frame is there); set
  /// before the queue's loop starts.
  public var pacing: RXPacing?
  /// When a paced batch's first frame was seen (0: none waits).
  private var waitingSince: UInt64 = 0

  /// Up to ``batchSize`` received frames (or ``pacing``'s frames, once
  /// they are there or the first waited long enough): how many, the first
  /// at `index` (release them with ``releaseReceived(_:)``).
  @inline(__always) public func peekReceived(at index: inout UInt32) -> UInt32 {
    guard let pacing else { return socket.receive.peek(Self.batchSize, at: &index) }
    return peekPaced(pacing, at: &index)
  }

  private func peekPaced(_ pacing: RXPacing, at index: inout UInt32) -> UInt32 {
    let wanted = UInt32(pacing.frames)
    while true {
      let count = socket.receive.peek(wanted, at: &index)
      if count == 0 { return 0 }
      if count == wanted {
        waitingSince = 0
        return count
      }
      let now = MonotonicClock.nanoseconds()
      if waitingSince == 0 { waitingSince = now }
      let waited = now &- waitingSince
      if waited >= pacing.maximumDelay {
        waitingSince = 0
        return count
      }
      // Not yet: the slots are peeked again, with those arrived meanwhile
      // (the producer read again: libxdp rereads it only on an empty cache).
      socket.receive.cancel(count)
      RXPacing.sleep(min(pacing.interval, pacing.maximumDelay &- waited))
      socket.receive.refresh()
    }
  }

  /// Gives `count` read RX slots back to the kernel.
  @inline(__always) public func releaseReceived(_ count: UInt32) {
    socket.receive.release(count)
  }

  /// Takes back the last ``peekReceived(at:)`` of `count` frames, left on
  /// the ring for the next one.
  @inline(__always) public func cancelReceived(_ count: UInt32) {
    socket.receive.cancel(count)
  }

  /// Waits for frames (kicking copy-mode TX first when frames are out):
  /// what a loop does when the RX ring was empty.
  @inline(__always) public func idle() {
    if outstandingTransmits > 0 { socket.kickIfAsked() }
    socket.waitReadable(milliseconds: 20)
  }

  /// Records `count` frames submitted on the TX ring and, when the kernel
  /// asks for a wakeup (copy mode always does), kicks TX once for every
  /// ``framesPerKick`` of them (copy mode sends at most that many a call).
  @inline(__always) func transmitted(_ count: Int) {
    outstandingTransmits += count
    for _ in 0..<((count + Self.framesPerKick - 1) / Self.framesPerKick) {
      guard socket.kickIfAsked() else { return }
    }
  }

  /// Puts the `count` received frames from RX slot `index` back on the
  /// fill ring (what a DROP costs at best); false when the fill ring had
  /// no room (the frames stay on the RX ring).
  public func recycleReceived(from index: UInt32, count: UInt32) -> Bool {
    var slot: UInt32 = 0
    guard socket.fill.reserve(count, at: &slot) == count else { return false }
    for entry in 0..<count {
      socket.fill.setAddress(
        Self.chunk(socket.receive.descriptor(at: index &+ entry).address), at: slot &+ entry)
    }
    socket.fill.submit(count)
    return true
  }

  /// Sends back the received frames from RX slot `index` for which
  /// `sendsBack` (given 0 to `count` - 1) is true and puts the others back
  /// on the fill ring: the ring work of a program's TX and DROP verdicts
  /// without the program. False, after a kick, when the TX ring had no
  /// room (the frames stay on the RX ring).
  public func sendBackOrRecycle(
    from index: UInt32, count: UInt32, sendsBack: (UInt32) -> Bool
  ) -> Bool {
    settle(from: index, count: count) { sendsBack($0) ? .sendBack : .recycle }
  }

  /// Sends the `count` received frames from RX slot `index` back out of
  /// the TX ring (what a TX costs at best); false, after a kick, when the
  /// TX ring had no room (the frames stay on the RX ring).
  public func sendBackReceived(from index: UInt32, count: UInt32) -> Bool {
    var slot: UInt32 = 0
    guard socket.transmit.reserve(count, at: &slot) == count else {
      socket.kickIfAsked()
      return false
    }
    for entry in 0..<count {
      socket.transmit.setDescriptor(
        socket.receive.descriptor(at: index &+ entry), at: slot &+ entry)
    }
    socket.transmit.submit(count)
    transmitted(Int(count))
    return true
  }
}
