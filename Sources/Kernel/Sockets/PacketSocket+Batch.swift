import CLinux
import Glibc

/// Many frames out of one packet socket with one system call.
///
/// `sendmmsg` sends the frames in order and stops at the first the kernel
/// refuses; what it did send is what it returns, and the refused frame's
/// errno is lost. The refused frame is then sent again on its own
/// (`sendmmsg` of the rest), which either sends it or returns its errno:
/// each frame gets the answer a `send` of its own would have had, and a
/// batch the interface takes whole costs one system call.
public struct PacketBatch: ~Copyable {
  /// `MSG_DONTWAIT` (its macro does not reach Swift where CLinux's
  /// `sendmmsg` is imported).
  static let dontWait: Int32 = 0x40

  /// The most frames one batch holds.
  public let capacity: Int
  /// Frames added so far.
  public private(set) var count = 0
  private let messages: UnsafeMutableBufferPointer<clinux_mmsghdr>
  private let vectors: UnsafeMutableBufferPointer<iovec>

  /// An empty batch of up to `capacity` frames.
  public init(capacity: Int) {
    self.capacity = capacity
    messages = ZeroedStorage.allocate(clinux_mmsghdr.self, count: capacity)
    vectors = ZeroedStorage.allocate(iovec.self, count: capacity)
  }

  deinit {
    messages.deallocate()
    vectors.deallocate()
  }

  /// Adds a frame (its bytes must stay valid until ``send(through:errors:)``);
  /// false when the batch is full.
  @inline(__always)
  public mutating func append(_ frame: UnsafeRawPointer, length: Int) -> Bool {
    guard count < capacity else { return false }
    vectors[count].iov_base = UnsafeMutableRawPointer(mutating: frame)
    vectors[count].iov_len = length
    // Only these fields change: the rest of the storage stays zeroed.
    messages[count].msg_hdr.msg_iov = vectors.baseAddress! + count
    messages[count].msg_hdr.msg_iovlen = 1
    count += 1
    return true
  }

  /// Sends every frame out of `socket` without blocking and empties the
  /// batch; `errors[i]` is 0 when frame `i` left, else the errno its own
  /// `send` would have returned (`EMSGSIZE` when only part of it left).
  /// Returns the system calls it took.
  @discardableResult
  public mutating func send(through socket: PacketSocket, errors: UnsafeMutablePointer<Int32>)
    -> Int
  {
    var next = 0
    var calls = 0
    while next < count {
      let sent = sendmmsg(
        socket.descriptor, messages.baseAddress! + next, UInt32(count - next),
        Self.dontWait)
      calls += 1
      if sent > 0 {
        for index in next..<(next + Int(sent)) {
          errors[index] = messages[index].msg_len == vectors[index].iov_len ? 0 : EMSGSIZE
        }
        next += Int(sent)
      } else {
        errors[next] = sent < 0 ? errno : ENOBUFS
        next += 1
      }
    }
    count = 0
    return calls
  }
}
