import BPF
import CXDP
import Engine
import Glibc

/// One AF_XDP socket on one receive queue, with its UMEM: the frames live
/// in a region of the queue's engine address space (so the program runs
/// on them where the kernel put them), registered with the kernel at that
/// region's host address through libxdp's xsk API.
///
/// Zero-copy is tried first; drivers without it (veth) get copy mode.
final class QueueSocket {
  /// Bytes per UMEM frame (one page: 256 bytes of headroom, the packet,
  /// and the tailroom programs may grow into).
  static let frameSize = 4096
  /// Frames per UMEM; the fill ring holds them all.
  static let frameCount = 4096
  /// Descriptors on the RX, TX and completion rings.
  static let ringSize: UInt32 = 2048

  let interface: String
  let queue: UInt32
  /// The UMEM region in the engine's address space.
  let region: Region
  /// Whether the socket runs zero-copy.
  let zeroCopy: Bool
  /// The socket's descriptor (registered in the sockets map).
  let descriptor: Int32

  let fill: UnsafeMutablePointer<xsk_ring_prod>
  let completion: UnsafeMutablePointer<xsk_ring_cons>
  let receive: UnsafeMutablePointer<xsk_ring_cons>
  let transmit: UnsafeMutablePointer<xsk_ring_prod>
  private var umem: OpaquePointer?
  private var socket: OpaquePointer?

  /// Maps the UMEM into `space`, fixes the space in place, registers the
  /// UMEM and binds a socket to `queue` of `interface`, then hands every
  /// frame to the fill ring.
  init(interface: String, queue: UInt32, space: AddressSpace) throws(DatapathError) {
    self.interface = interface
    self.queue = queue
    fill = .allocate(capacity: 1)
    completion = .allocate(capacity: 1)
    receive = .allocate(capacity: 1)
    transmit = .allocate(capacity: 1)
    for ring in [UnsafeMutableRawPointer(fill), UnsafeMutableRawPointer(completion)] {
      ring.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<xsk_ring_prod>.size)
    }
    UnsafeMutableRawPointer(receive).initializeMemory(
      as: UInt8.self, repeating: 0, count: MemoryLayout<xsk_ring_cons>.size)
    UnsafeMutableRawPointer(transmit).initializeMemory(
      as: UInt8.self, repeating: 0, count: MemoryLayout<xsk_ring_prod>.size)
    let bytes = Self.frameSize * Self.frameCount
    do {
      region = try space.map(length: bytes, name: "umem queue \(queue)")
    } catch {
      throw .socket(
        interface: interface, queue: queue, step: "map the UMEM (\(error))", code: ENOMEM)
    }
    guard let area = space.pointer(UInt64(region.start), count: bytes) else {
      throw .socket(interface: interface, queue: queue, step: "map the UMEM", code: ENOMEM)
    }
    var umemConfig = xsk_umem_config(
      fill_size: UInt32(Self.frameCount), comp_size: Self.ringSize,
      frame_size: UInt32(Self.frameSize), frame_headroom: 0, flags: 0)
    var created: OpaquePointer?
    let umemResult = xsk_umem__create(&created, area, UInt64(bytes), fill, completion, &umemConfig)
    guard umemResult == 0, let created else {
      throw .socket(
        interface: interface, queue: queue, step: "register the UMEM", code: -umemResult)
    }
    umem = created
    var socketConfig = xsk_socket_config()
    socketConfig.rx_size = Self.ringSize
    socketConfig.tx_size = Self.ringSize
    socketConfig.libxdp_flags = cxdp_inhibit_program_load()
    socketConfig.xdp_flags = 0
    var bound: OpaquePointer?
    socketConfig.bind_flags = cxdp_bind_zerocopy()
    var result = xsk_socket__create(
      &bound, interface, queue, created, receive, transmit, &socketConfig)
    var zeroCopy = result == 0
    if result != 0 {
      socketConfig.bind_flags = cxdp_bind_copy()
      result = xsk_socket__create(
        &bound, interface, queue, created, receive, transmit, &socketConfig)
      zeroCopy = false
    }
    guard result == 0, let bound else {
      xsk_umem__delete(created)
      umem = nil
      throw .socket(
        interface: interface, queue: queue, step: "create and bind the socket", code: -result)
    }
    socket = bound
    self.zeroCopy = zeroCopy
    descriptor = xsk_socket__fd(bound)
    var index: UInt32 = 0
    let reserved = xsk_ring_prod__reserve(fill, UInt32(Self.frameCount), &index)
    for frame in 0..<Int(reserved) {
      xsk_ring_prod__fill_addr(fill, index &+ UInt32(frame)).pointee = UInt64(
        frame * Self.frameSize)
    }
    xsk_ring_prod__submit(fill, reserved)
  }

  deinit {
    close()
    fill.deallocate()
    completion.deallocate()
    receive.deallocate()
    transmit.deallocate()
  }

  /// Closes the socket (the kernel drops it from the sockets map) and
  /// unregisters the UMEM. Safe to call twice.
  func close() {
    if let socket { xsk_socket__delete(socket) }
    socket = nil
    if let umem { xsk_umem__delete(umem) }
    umem = nil
  }

  /// The socket's own drop counters.
  func statistics() -> SocketStatistics {
    var raw = xdp_statistics()
    guard cxdp_statistics(descriptor, &raw) == 0 else { return SocketStatistics() }
    return SocketStatistics(
      rxDropped: raw.rx_dropped, rxRingFull: raw.rx_ring_full,
      fillRingEmpty: raw.rx_fill_ring_empty_descs, txInvalid: raw.tx_invalid_descs,
      rxInvalid: raw.rx_invalid_descs, txRingEmpty: raw.tx_ring_empty_descs)
  }
}

/// An AF_XDP socket's `XDP_STATISTICS`, added over the datapath's sockets.
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

  init(
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

  enum CodingKeys: String, CodingKey {
    case rxDropped = "rx_dropped"
    case rxRingFull = "rx_ring_full"
    case fillRingEmpty = "fill_ring_empty"
    case txInvalid = "tx_invalid"
    case rxInvalid = "rx_invalid"
    case txRingEmpty = "tx_ring_empty"
  }
}
