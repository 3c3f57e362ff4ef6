import BPF
import CLinux
import Glibc

/// A netlink socket of one protocol (`NETLINK_ROUTE`, `NETLINK_GENERIC`)
/// that sends a request and collects the kernel's reply, whole dumps
/// included.
public final class NetlinkSocket {
  private let descriptor: KernelDescriptor
  private var nextSequence: UInt32 = 1

  /// `NETLINK_ROUTE`: links, addresses, routes.
  public static let route: Int32 = 0
  /// `NETLINK_GENERIC`: generic families such as `netdev`.
  public static let generic: Int32 = 16

  /// Opens a socket of `netlinkProtocol`.
  public init(protocol netlinkProtocol: Int32) throws(SystemCallError) {
    let fd = try check("open a netlink socket (protocol \(netlinkProtocol))") {
      socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkProtocol)
    }
    descriptor = KernelDescriptor(owning: fd)
    try ZeroedStorage.with(sockaddr_nl.self) { (address) throws(SystemCallError) in
      address.pointee.nl_family = sa_family_t(AF_NETLINK)
      try check("bind a netlink socket") {
        address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
        }
      }
    }
  }

  /// Sends `type` with `payload` and returns the replies: every part of a
  /// dump, or the single answer. A kernel error reply becomes a
  /// ``SystemCallError`` naming `operation`.
  public func request(
    _ operation: @autoclosure () -> String, type: UInt16, flags: UInt16, payload: [UInt8]
  ) throws(SystemCallError) -> [NetlinkMessage] {
    let sequence = nextSequence
    nextSequence &+= 1
    let message = NetlinkMessage(
      type: type, flags: NetlinkMessage.requestFlag | flags, sequence: sequence, payload: payload)
    let bytes = message.encoded
    try check(operation(), retryingInterrupts: true) {
      bytes.withUnsafeBytes { send(descriptor.rawValue, $0.baseAddress, $0.count, 0) }
    }
    var replies: [NetlinkMessage] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let received = try check(operation(), retryingInterrupts: true) {
        buffer.withUnsafeMutableBytes { recv(descriptor.rawValue, $0.baseAddress, $0.count, 0) }
      }
      for reply in NetlinkMessage.decode(Array(buffer.prefix(Int(received))))
      where reply.sequence == sequence {
        if reply.type == NetlinkMessage.doneType { return replies }
        if let code = reply.errorCode {
          if code != 0 { throw SystemCallError(operation(), errno: Errno(code)) }
          return replies
        }
        replies.append(reply)
        // A dump ends with NLMSG_DONE (some families do not flag the parts
        // NLM_F_MULTI); a plain request ends with its single reply.
        let isDump = flags & NetlinkMessage.dumpFlag != 0
        if !isDump, reply.flags & NetlinkMessage.multipartFlag == 0,
          flags & NetlinkMessage.acknowledgeFlag == 0
        {
          return replies
        }
      }
    }
  }
}
