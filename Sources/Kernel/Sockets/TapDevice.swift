import BPF
import CXDP
import Glibc

/// A TAP device (`IFF_TAP | IFF_NO_PI`) this process writes Ethernet
/// frames into: the host's stack receives them as if they arrived on it.
/// Not persistent: it goes with its descriptor, when the process closes
/// it or dies.
public final class TapDevice: @unchecked Sendable {
  /// The device's name.
  public let name: String
  /// Its index.
  public let index: UInt32
  private let descriptor: Int32

  /// Makes the device `name`, applies `settings` (which may bring it up);
  /// writes do not block. A name another device holds fails with
  /// ``TapDeviceError/nameTaken(_:)``.
  public init(name: String, settings: LinkSettings) throws(TapDeviceError) {
    self.name = name
    if NetworkInterface.index(of: name) != nil { throw .nameTaken(name) }
    let fd: Int32
    do {
      fd = try SystemCall.check("open the TAP device \(name)") { cxdp_tap_open(name) }
    } catch {
      // Made by someone else between the look and the open.
      if error.errno == .busy { throw .nameTaken(name) }
      throw .open(name: name, error)
    }
    guard let index = NetworkInterface.index(of: name) else {
      close(fd)
      throw .open(name: name, SystemCallError("find \(name)", errno: .noDevice))
    }
    do {
      try settings.apply(toInterface: index, name: name)
    } catch {
      close(fd)
      throw .configure(name: name, error)
    }
    self.index = index
    descriptor = fd
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
  }

  deinit { close(descriptor) }

  /// Writes one frame; false when the device did not take all of it.
  @inline(__always)
  public func write(_ frame: UnsafeRawPointer, length: Int) -> Bool {
    return Glibc.write(descriptor, frame, length) == length
  }
}

/// Why a TAP device could not be made. Nothing is left behind.
public enum TapDeviceError: Error, Sendable, CustomStringConvertible {
  /// Another device has the name (a persistent TAP, another tool's link,
  /// a datapath of another interface that held this index before).
  case nameTaken(String)
  /// `/dev/net/tun` could not be opened, or `TUNSETIFF` failed.
  case open(name: String, SystemCallError)
  /// The device was made but could not be set up.
  case configure(name: String, SystemCallError)

  /// The name of the device concerned.
  public var name: String {
    switch self {
    case .nameTaken(let name), .open(let name, _), .configure(let name, _): name
    }
  }

  /// A message naming the device and the real cause.
  public var description: String {
    switch self {
    case .nameTaken(let name):
      "a network device named \(name) exists already (ip link show \(name))"
    case .open(_, let error) where error.errno == .notFound || error.errno == .noDevice:
      "\(error.operation): no /dev/net/tun (is the tun module loaded?): \(error.errno.message)"
    case .open(_, let error) where error.errno == .notPermitted || error.errno == .accessDenied:
      "\(error.operation): \(error.errno.message) (this needs CAP_NET_ADMIN)"
    case .open(_, let error), .configure(_, let error): error.description
    }
  }
}

/// A raw `AF_PACKET` socket bound to one interface, for sending whole
/// Ethernet frames out of it (never blocking).
public final class PacketSocket: @unchecked Sendable {
  /// The interface's index.
  public let interfaceIndex: UInt32
  let descriptor: Int32

  /// A socket on interface `index`; refused for loopback, which cannot
  /// take XDP redirects (the kernel fails them too).
  public init(interfaceIndex index: UInt32) throws(SystemCallError) {
    guard let name = NetworkInterface.name(of: index) else {
      throw SystemCallError("find interface \(index)", errno: .noDevice)
    }
    let flags = try SystemCall.check("read the flags of \(name)") { cxdp_interface_flags(name) }
    guard flags & cxdp_flag_loopback() == 0 else {
      throw SystemCallError("send out of loopback \(name)", errno: .operationNotSupported)
    }
    interfaceIndex = index
    descriptor = try SystemCall.check("open a packet socket on \(name)") {
      cxdp_packet_socket(Int32(index))
    }
  }

  deinit { close(descriptor) }

  /// Sends one frame; 0 when the interface took it, else the errno
  /// (`ENETDOWN` when it is down, `ENXIO` when it is gone).
  @inline(__always)
  public func send(_ frame: UnsafeRawPointer, length: Int) -> Int32 {
    let sent = Glibc.send(descriptor, frame, length, PacketBatch.dontWait)
    if sent == length { return 0 }
    return sent < 0 ? errno : EMSGSIZE
  }
}
