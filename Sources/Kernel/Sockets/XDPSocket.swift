import BPF
import CXDP
import Glibc

/// An AF_XDP socket bound to one receive queue, with its UMEM, through
/// libxdp's xsk API: the UMEM is memory the caller owns (the software
/// datapath puts it in the engine's address space, so that programs run on
/// frames where the kernel put them). Zero-copy is tried first; drivers
/// without it (veth) get copy mode. libxdp loads no program of its own:
/// the caller steers frames here (an XSKMAP entry).
public final class XDPSocket: @unchecked Sendable {
  /// How a socket and its UMEM are laid out.
  public struct Layout: Hashable, Sendable {
    /// Bytes per UMEM frame.
    public var frameSize: Int
    /// Frames in the UMEM; the fill ring holds them all.
    public var frameCount: Int
    /// Descriptors on the RX, TX and completion rings.
    public var ringSize: UInt32

    /// Describes a layout.
    public init(frameSize: Int, frameCount: Int, ringSize: UInt32) {
      self.frameSize = frameSize
      self.frameCount = frameCount
      self.ringSize = ringSize
    }

    /// Bytes of the UMEM.
    public var bytes: Int { frameSize * frameCount }
  }

  /// Why a socket could not be made: the step and the kernel's error.
  public struct Failure: Error, Sendable {
    /// What was being done (`register the UMEM`).
    public var step: String
    /// The kernel's error number.
    public var errno: Errno
  }

  /// The interface.
  public let interface: String
  /// The receive queue.
  public let queue: UInt32
  /// The layout.
  public let layout: Layout
  /// Whether the socket runs zero-copy (false: copy mode).
  public let zeroCopy: Bool
  /// The socket's descriptor (what an XSKMAP entry holds).
  public let descriptor: Int32
  /// Frames user space hands to the kernel to receive into.
  public let fill: ProducerRing
  /// Frames the kernel has sent, handed back.
  public let completion: ConsumerRing
  /// Frames received.
  public let receive: ConsumerRing
  /// Frames to send.
  public let transmit: ProducerRing

  private let rings: UnsafeMutableRawPointer
  private var umem: OpaquePointer?
  private var socket: OpaquePointer?

  /// How long a bind to a queue that the kernel still holds for a closed
  /// socket is tried again.
  public static let busyQueueWait: Duration = .seconds(2)

  /// Registers `area` (`layout.bytes` long, page-aligned) as the UMEM and
  /// binds a socket to `queue` of `interface`, then hands every frame to
  /// the fill ring.
  public init(interface: String, queue: UInt32, area: UnsafeMutableRawPointer, layout: Layout)
    throws(Failure)
  {
    self.interface = interface
    self.queue = queue
    self.layout = layout
    // The four ring structures, zeroed, in one allocation.
    let producer = MemoryLayout<xsk_ring_prod>.stride
    let consumer = MemoryLayout<xsk_ring_cons>.stride
    let size = 2 * producer + 2 * consumer
    rings = .allocate(byteCount: size, alignment: 64)
    rings.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    let fillRing = rings.bindMemory(to: xsk_ring_prod.self, capacity: 1)
    let transmitRing = (rings + producer).bindMemory(to: xsk_ring_prod.self, capacity: 1)
    let completionRing = (rings + 2 * producer).bindMemory(to: xsk_ring_cons.self, capacity: 1)
    let receiveRing = (rings + 2 * producer + consumer).bindMemory(
      to: xsk_ring_cons.self, capacity: 1)
    fill = ProducerRing(fillRing)
    transmit = ProducerRing(transmitRing)
    completion = ConsumerRing(completionRing)
    receive = ConsumerRing(receiveRing)
    // The kernel lets go of a closed socket's queue from a work queue
    // (`xp_release_deferred`) once the socket's last reference is gone: a
    // socket bound right after the previous one on the queue closed (a
    // datapath replaced by the next) can find it still taken (EBUSY) for a
    // moment. Such a bind is tried again, with a new UMEM, for up to
    // ``busyQueueWait``; any other failure is final.
    let deadline = ContinuousClock.now + Self.busyQueueWait
    var created: OpaquePointer?
    var bound: OpaquePointer?
    var zeroCopy = true
    while true {
      let umemResult = ZeroedStorage.with(xsk_umem_config.self) { config in
        config.pointee.fill_size = UInt32(layout.frameCount)
        config.pointee.comp_size = layout.ringSize
        config.pointee.frame_size = UInt32(layout.frameSize)
        return xsk_umem__create(
          &created, area, UInt64(layout.bytes), fillRing, completionRing, config)
      }
      guard umemResult == 0, let umemCreated = created else {
        rings.deallocate()
        throw Failure(step: "register the UMEM", errno: Errno(-umemResult))
      }
      zeroCopy = true
      let result = ZeroedStorage.with(xsk_socket_config.self) { config in
        config.pointee.rx_size = layout.ringSize
        config.pointee.tx_size = layout.ringSize
        config.pointee.libxdp_flags = cxdp_inhibit_program_load()
        // XDP_USE_NEED_WAKEUP: the kernel says on each ring when it needs
        // a system call to go on (TX kicks only then); every kernel with
        // AF_XDP zero-copy or copy mode since 5.4 takes the flag.
        config.pointee.bind_flags = cxdp_bind_zerocopy() | cxdp_bind_need_wakeup()
        let zeroCopyResult = xsk_socket__create(
          &bound, interface, queue, umemCreated, receiveRing, transmitRing, config)
        guard zeroCopyResult != 0 else { return zeroCopyResult }
        zeroCopy = false
        config.pointee.bind_flags = cxdp_bind_copy() | cxdp_bind_need_wakeup()
        return xsk_socket__create(
          &bound, interface, queue, umemCreated, receiveRing, transmitRing, config)
      }
      if result == 0, bound != nil { break }
      xsk_umem__delete(umemCreated)
      created = nil
      if result == -EBUSY, ContinuousClock.now < deadline {
        rings.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        usleep(20_000)
        continue
      }
      rings.deallocate()
      throw Failure(step: "create and bind the socket", errno: Errno(-result))
    }
    guard let created, let bound else {
      rings.deallocate()
      throw Failure(step: "create and bind the socket", errno: Errno(EINVAL))
    }
    umem = created
    socket = bound
    self.zeroCopy = zeroCopy
    descriptor = xsk_socket__fd(bound)
    var index: UInt32 = 0
    let reserved = fill.reserve(UInt32(layout.frameCount), at: &index)
    for frame in 0..<Int(reserved) {
      fill.setAddress(UInt64(frame * layout.frameSize), at: index &+ UInt32(frame))
    }
    fill.submit(reserved)
  }

  deinit {
    close()
    rings.deallocate()
  }

  /// Closes the socket (the kernel drops it from any XSKMAP) and
  /// unregisters the UMEM. Safe to call twice.
  public func close() {
    if let socket { xsk_socket__delete(socket) }
    socket = nil
    if let umem { xsk_umem__delete(umem) }
    umem = nil
  }

  /// Copy-mode TX needs a system call to send what the TX ring holds.
  @inlinable @inline(__always)
  public func kick() { _ = cxdp_kick(descriptor) }

  /// Kicks TX only when the kernel asks for it (``ProducerRing/needsWakeup``:
  /// a zero-copy driver whose NAPI runs takes the ring by itself; copy
  /// mode always asks). Whether it kicked.
  @inlinable @inline(__always)
  @discardableResult
  public func kickIfAsked() -> Bool {
    guard transmit.needsWakeup else { return false }
    kick()
    return true
  }

  /// Waits up to `milliseconds` for frames on the RX ring; whether some
  /// arrived.
  @discardableResult
  public func waitReadable(milliseconds: Int32) -> Bool {
    cxdp_wait_readable(descriptor, milliseconds) > 0
  }

  /// Waits up to `microseconds` for frames on the RX ring (a wait
  /// shorter than a millisecond); whether some arrived.
  @discardableResult
  public func waitReadable(microseconds: Int) -> Bool {
    Self.waitReadable(descriptor, microseconds: microseconds)
  }

  /// Waits up to `microseconds` for `descriptor` to become readable (one
  /// ppoll(2), any descriptor number); whether it did.
  public static func waitReadable(_ descriptor: Int32, microseconds: Int) -> Bool {
    cxdp_wait_readable_us(descriptor, microseconds) > 0
  }

  /// The socket's own drop counters (`XDP_STATISTICS`); zero when the
  /// kernel will not say.
  public func statistics() -> SocketStatistics {
    var raw = xdp_statistics()
    guard cxdp_statistics(descriptor, &raw) == 0 else { return SocketStatistics() }
    return SocketStatistics(
      rxDropped: raw.rx_dropped, rxRingFull: raw.rx_ring_full,
      fillRingEmpty: raw.rx_fill_ring_empty_descs, txInvalid: raw.tx_invalid_descs,
      rxInvalid: raw.rx_invalid_descs, txRingEmpty: raw.tx_ring_empty_descs)
  }
}

/// An AF_XDP socket's `XDP_STATISTICS`, added over sockets.
public struct SocketStatistics: Hashable, Codable, Sendable {
  /// Frames dropped for other reasons.
  public var rxDropped: UInt64 = 0
  /// Frames dropped because the RX ring was full.
  public var rxRingFull: UInt64 = 0
  /// Times the kernel found no frame on the fill ring (the frame was dropped).
  public var fillRingEmpty: UInt64 = 0
  /// Invalid TX descriptors.
  public var txInvalid: UInt64 = 0
  /// Invalid RX descriptors.
  public var rxInvalid: UInt64 = 0
  /// Times the kernel found the TX ring empty.
  public var txRingEmpty: UInt64 = 0

  /// All zero.
  public init() {}

  /// Describes counters.
  public init(
    rxDropped: UInt64, rxRingFull: UInt64, fillRingEmpty: UInt64, txInvalid: UInt64,
    rxInvalid: UInt64, txRingEmpty: UInt64
  ) {
    self.rxDropped = rxDropped
    self.rxRingFull = rxRingFull
    self.fillRingEmpty = fillRingEmpty
    self.txInvalid = txInvalid
    self.rxInvalid = rxInvalid
    self.txRingEmpty = txRingEmpty
  }

  /// Adds another socket's counters.
  public mutating func add(_ other: SocketStatistics) {
    rxDropped &+= other.rxDropped
    rxRingFull &+= other.rxRingFull
    fillRingEmpty &+= other.fillRingEmpty
    txInvalid &+= other.txInvalid
    rxInvalid &+= other.rxInvalid
    txRingEmpty &+= other.txRingEmpty
  }

  /// Frames the sockets lost (ring full, no fill frame, other drops).
  public var dropped: UInt64 { rxDropped &+ rxRingFull &+ fillRingEmpty }
}
