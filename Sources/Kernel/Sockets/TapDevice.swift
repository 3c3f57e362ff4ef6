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
  /// Its MAC address.
  public let hardwareAddress: [UInt8]
  private let descriptor: Int32

  /// Makes the device `name` and brings it up; writes do not block.
  public init(name: String) throws(SystemCallError) {
    self.name = name
    let fd = try SystemCall.check("open the TAP device \(name)") { cxdp_tap_open(name) }
    descriptor = fd
    do {
      try SystemCall.check("bring \(name) up") { cxdp_interface_up(name) }
    } catch {
      close(fd)
      throw error
    }
    var mac = [UInt8](repeating: 0, count: 6)
    _ = cxdp_hardware_address(name, &mac)
    hardwareAddress = mac
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
  }

  deinit { close(descriptor) }

  /// Writes one frame; false when the device did not take all of it.
  @inline(__always)
  public func write(_ frame: UnsafeRawPointer, length: Int) -> Bool {
    Glibc.write(descriptor, frame, length) == length
  }
}

/// A raw `AF_PACKET` socket bound to one interface, for sending whole
/// Ethernet frames out of it (never blocking).
public final class PacketSocket: @unchecked Sendable {
  /// The interface's index.
  public let interfaceIndex: UInt32
  private let descriptor: Int32

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

  /// Sends one frame; false when the interface did not take it.
  @inline(__always)
  public func send(_ frame: UnsafeRawPointer, length: Int) -> Bool {
    Glibc.send(descriptor, frame, length, Int32(MSG_DONTWAIT)) == length
  }
}
