import CXDP

/// One frame's place in a UMEM as an RX or TX ring carries it
/// (`struct xdp_desc`): its address (offset in the UMEM) and length.
public struct XDPDescriptor: Hashable, Sendable {
  /// The frame's offset in the UMEM (where its data starts).
  public var address: UInt64
  /// Its length in bytes.
  public var length: UInt32

  /// Describes a frame.
  @inlinable public init(address: UInt64, length: UInt32) {
    self.address = address
    self.length = length
  }
}

/// A ring user space fills and the kernel consumes (fill and TX rings:
/// libxdp's `xsk_ring_prod`). Indices wrap; reserve, write the slots,
/// submit.
public struct ProducerRing: @unchecked Sendable {
  /// libxdp's ring, owned by the socket or UMEM it belongs to.
  @usableFromInline let ring: UnsafeMutablePointer<xsk_ring_prod>

  @usableFromInline init(_ ring: UnsafeMutablePointer<xsk_ring_prod>) { self.ring = ring }

  /// Reserves up to `count` slots; how many it got (all or none), the
  /// first at `index`.
  @inlinable @inline(__always)
  public func reserve(_ count: UInt32, at index: inout UInt32) -> UInt32 {
    xsk_ring_prod__reserve(ring, count, &index)
  }

  /// Writes a UMEM address into fill-ring slot `index`.
  @inlinable @inline(__always)
  public func setAddress(_ address: UInt64, at index: UInt32) {
    xsk_ring_prod__fill_addr(ring, index).pointee = address
  }

  /// Writes a frame into TX-ring slot `index`.
  @inlinable @inline(__always)
  public func setDescriptor(_ descriptor: XDPDescriptor, at index: UInt32) {
    let slot = xsk_ring_prod__tx_desc(ring, index)!
    slot.pointee.addr = descriptor.address
    slot.pointee.len = descriptor.length
    slot.pointee.options = 0
  }

  /// Hands `count` written slots to the kernel.
  @inlinable @inline(__always)
  public func submit(_ count: UInt32) {
    xsk_ring_prod__submit(ring, count)
  }

  /// Whether the kernel asks for a system call to go on with the ring
  /// (`XDP_RING_NEED_WAKEUP`, set only on a socket bound with
  /// `XDP_USE_NEED_WAKEUP`).
  @inlinable @inline(__always)
  public var needsWakeup: Bool { xsk_ring_prod__needs_wakeup(ring) != 0 }
}

/// A ring the kernel fills and user space consumes (RX and completion
/// rings: libxdp's `xsk_ring_cons`). Peek, read the slots, release.
public struct ConsumerRing: @unchecked Sendable {
  /// libxdp's ring, owned by the socket or UMEM it belongs to.
  @usableFromInline let ring: UnsafeMutablePointer<xsk_ring_cons>

  @usableFromInline init(_ ring: UnsafeMutablePointer<xsk_ring_cons>) { self.ring = ring }

  /// Up to `count` filled slots; how many there are, the first at `index`.
  @inlinable @inline(__always)
  public func peek(_ count: UInt32, at index: inout UInt32) -> UInt32 {
    xsk_ring_cons__peek(ring, count, &index)
  }

  /// The UMEM address in completion-ring slot `index`.
  @inlinable @inline(__always)
  public func address(at index: UInt32) -> UInt64 {
    xsk_ring_cons__comp_addr(ring, index).pointee
  }

  /// The frame in RX-ring slot `index`.
  @inlinable @inline(__always)
  public func descriptor(at index: UInt32) -> XDPDescriptor {
    let slot = xsk_ring_cons__rx_desc(ring, index).pointee
    return XDPDescriptor(address: slot.addr, length: slot.len)
  }

  /// Gives `count` read slots back to the kernel.
  @inlinable @inline(__always)
  public func release(_ count: UInt32) {
    xsk_ring_cons__release(ring, count)
  }

  /// Takes back the last peek of `count` slots, unread: the next peek
  /// finds them again (a peek moves libxdp's cached consumer on).
  @inlinable @inline(__always)
  public func cancel(_ count: UInt32) {
    xsk_ring_cons__cancel(ring, count)
  }

  /// Reads the kernel's producer index again (a peek reads it only once
  /// the slots it cached ran out): what a peek that came back short sees
  /// after a wait. The filled slots not yet peeked.
  @inlinable @inline(__always)
  @discardableResult
  public func refresh() -> UInt32 {
    cxdp_ring_cons_refresh(ring)
  }
}
