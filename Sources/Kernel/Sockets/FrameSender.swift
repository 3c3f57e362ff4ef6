import BPF
import CLinux
import Glibc

/// Sends whole Ethernet frames out of one interface through a raw
/// AF_PACKET socket, many per system call (`sendmmsg`), past the qdisc
/// layer (`PACKET_QDISC_BYPASS`).
///
/// A frame the driver cannot take (a veth peer whose ring is full) fails
/// its send with ENOBUFS rather than vanishing, so ``send(_:count:)``
/// reports exactly the frames that left; the caller sends the rest again.
public struct FrameSender: ~Copyable {
  /// The most frames one ``send(_:count:)`` hands to the kernel.
  public static let batch = 64

  private let descriptor: Int32
  private let messages: UnsafeMutableBufferPointer<clinux_mmsghdr>
  private let vectors: UnsafeMutableBufferPointer<iovec>

  /// A sender on interface `index` of the calling thread's namespace.
  public init(interfaceIndex index: UInt32, interface: String) throws(SystemCallError) {
    let fd = try SystemCall.check("open a packet socket on \(interface)") {
      clinux_packet_sender(Int32(bitPattern: index))
    }
    descriptor = fd
    messages = ZeroedStorage.allocate(clinux_mmsghdr.self, count: Self.batch)
    vectors = ZeroedStorage.allocate(iovec.self, count: Self.batch)
  }

  deinit {
    close(descriptor)
    messages.deallocate()
    vectors.deallocate()
  }

  /// Sends `count` frames (at most ``batch``), frame `i` being `frame(i)`,
  /// whose bytes must stay valid for the call. Returns how many left, in
  /// order (0 when the interface cannot take one now: try again).
  public mutating func send(
    _ frame: (Int) -> UnsafeRawBufferPointer, count: Int, interface: String
  ) throws(SystemCallError) -> Int {
    let count = min(count, Self.batch)
    for i in 0..<count {
      let bytes = frame(i)
      vectors[i].iov_base = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
      vectors[i].iov_len = bytes.count
      // Only the fields change: the storage (padding too) stays as zeroed.
      messages[i].msg_hdr.msg_iov = vectors.baseAddress! + i
      messages[i].msg_hdr.msg_iovlen = 1
    }
    let sent = sendmmsg(descriptor, messages.baseAddress, UInt32(count), 0)
    if sent >= 0 { return Int(sent) }
    let code = Errno.current
    // A full ring (ENOBUFS), a stopped queue (EAGAIN) or a signal: nothing left.
    if code == Errno(ENOBUFS) || code == .wouldBlock || code == .interrupted { return 0 }
    throw SystemCallError("send frames out of \(interface)", errno: code)
  }
}
