import CLinux
import Engine
import Kernel

/// The ring work of a loop that reads its frames and decides per frame
/// (the bench's header-reading and `mix-sends` reference loops), with the
/// same prefetch and ring calls as the datapath's ``QueueWorker``.
extension QueueSocket {
  /// One received frame: its bytes in host memory, length and UMEM frame.
  public struct ReceivedFrame {
    public var bytes: UnsafeMutableRawPointer
    public var length: UInt32
    public var chunk: UInt64

    public init(bytes: UnsafeMutableRawPointer, length: UInt32, chunk: UInt64) {
      self.bytes = bytes
      self.length = length
      self.chunk = chunk
    }
  }

  /// What a loop does with one received frame.
  public enum Disposition: UInt8, Sendable {
    /// Back to the fill ring now.
    case recycle
    /// Out of the TX ring.
    case sendBack
    /// Kept off the fill ring (gathered for a send; given back after it
    /// with ``giveBack(_:count:)``).
    case keep
  }

  /// The `count` received frames from RX slot `index` into `frames`, each
  /// one's first cache line prefetched as the datapath's worker does
  /// while it sets up a batch (the kernel wrote the frame a moment ago on
  /// another CPU).
  @inline(__always) public func takeReceived(
    from index: UInt32, count: UInt32, space: AddressSpace,
    into frames: UnsafeMutablePointer<ReceivedFrame>
  ) {
    let arena = space.hostMemory(at: 0)
    for entry in 0..<Int(count) {
      let descriptor = socket.receive.descriptor(at: index &+ UInt32(entry))
      let bytes = arena + Int(region.start &+ UInt32(descriptor.address))
      clinux_prefetch(bytes)
      frames[entry] = ReceivedFrame(
        bytes: bytes, length: descriptor.length, chunk: Self.chunk(descriptor.address))
    }
  }

  /// Carries out `dispositions` for the `count` received frames from RX
  /// slot `index`: TX ring, fill ring, or neither. False, after a kick,
  /// when the TX ring had no room (nothing done: the frames stay on the
  /// RX ring).
  public func settleReceived(
    from index: UInt32, count: UInt32, dispositions: UnsafePointer<Disposition>
  ) -> Bool {
    settle(from: index, count: count) { dispositions[Int($0)] }
  }

  /// The ring work of ``settleReceived(from:count:dispositions:)`` and
  /// ``sendBackOrRecycle(from:count:sendsBack:)``, each frame's
  /// `disposition` given its entry (0 to `count` - 1).
  @inline(__always) func settle(
    from index: UInt32, count: UInt32, disposition: (UInt32) -> Disposition
  ) -> Bool {
    var (transmits, recycles): (UInt32, UInt32) = (0, 0)
    for entry in 0..<count {
      switch disposition(entry) {
      case .sendBack: transmits += 1
      case .recycle: recycles += 1
      case .keep: break
      }
    }
    var transmitSlot: UInt32 = 0
    if transmits > 0, socket.transmit.reserve(transmits, at: &transmitSlot) != transmits {
      socket.kickIfAsked()
      return false
    }
    // The fill ring holds every frame of the UMEM: it always has room.
    var fillSlot: UInt32 = 0
    if recycles > 0 { _ = socket.fill.reserve(recycles, at: &fillSlot) }
    var (sent, recycled): (UInt32, UInt32) = (0, 0)
    for entry in 0..<count {
      let descriptor = socket.receive.descriptor(at: index &+ entry)
      switch disposition(entry) {
      case .sendBack:
        socket.transmit.setDescriptor(descriptor, at: transmitSlot &+ sent)
        sent += 1
      case .recycle:
        socket.fill.setAddress(Self.chunk(descriptor.address), at: fillSlot &+ recycled)
        recycled += 1
      case .keep: break
      }
    }
    if recycles > 0 { socket.fill.submit(recycles) }
    if transmits > 0 {
      socket.transmit.submit(transmits)
      transmitted(Int(transmits))
    }
    return true
  }

  /// Puts `count` UMEM frames (`chunks`) back on the fill ring.
  public func giveBack(_ chunks: UnsafePointer<UInt64>, count: Int) {
    guard count > 0 else { return }
    var fillIndex: UInt32 = 0
    let room = Int(socket.fill.reserve(UInt32(count), at: &fillIndex))
    for entry in 0..<room {
      socket.fill.setAddress(chunks[entry], at: fillIndex &+ UInt32(entry))
    }
    if room > 0 { socket.fill.submit(UInt32(room)) }
  }
}
