import BPF
import CXDP
import Glibc

/// Where the software datapath delivers PASS frames: a TAP device named
/// after the interface. A frame that AF_XDP took from an interface cannot
/// be handed back to the kernel on that interface, so the host stack sees
/// it arrive on the TAP device instead, with its destination MAC rewritten
/// to the TAP's (else the stack drops it as "other host"). Each frame is a
/// `write`, a copy and an skb: the PASS path costs far more than DROP.
///
/// The device is not persistent: it goes when the datapath closes it or dies.
final class PassDevice {
  /// The TAP device's name.
  let name: String
  /// Its MAC address, written over each frame's destination.
  let address: [UInt8]
  private let descriptor: Int32

  /// The TAP device name for `interface`: at most 15 characters.
  static func name(for interface: String) -> String { PassDeviceName.for(interface) }

  /// Makes and brings up the TAP device for `interface`.
  init(interface: String) throws(DatapathError) {
    name = Self.name(for: interface)
    let fd = cxdp_tap_open(name)
    guard fd >= 0 else { throw .passDevice(name: name, code: cxdp_errno()) }
    descriptor = fd
    guard cxdp_interface_up(name) == 0 else {
      let code = cxdp_errno()
      close(fd)
      throw .passDevice(name: name, code: code)
    }
    var mac = [UInt8](repeating: 0, count: 6)
    _ = cxdp_hardware_address(name, &mac)
    address = mac
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
  }

  deinit { close(descriptor) }

  /// Delivers one Ethernet frame to the host stack; false when the device
  /// did not take it.
  func deliver(_ frame: UnsafeMutableRawPointer, length: Int) -> Bool {
    guard length >= 14 else { return false }
    address.withUnsafeBytes { frame.copyMemory(from: $0.baseAddress!, byteCount: 6) }
    return write(descriptor, frame, length) == length
  }
}

/// The name of the TAP device PASS frames of an interface go to.
public enum PassDeviceName {
  /// `IFACE-tap`, the interface name cut to 11 characters (names have at most 15).
  public static func `for`(_ interface: String) -> String { String(interface.prefix(11)) + "-tap" }
}

/// Sockets that send frames out of other interfaces, for REDIRECT verdicts
/// the software datapath carries out: a raw AF_PACKET socket per target
/// interface, opened on first use. Loopback and missing interfaces cannot
/// take XDP redirects (the kernel fails them too): those count as
/// redirect-failed.
final class RedirectPorts {
  private var sockets: [UInt32: Int32] = [:]

  deinit { for fd in sockets.values where fd >= 0 { close(fd) } }

  /// Sends one frame out of interface `index`; false when it cannot.
  func send(_ frame: UnsafeRawPointer, length: Int, toInterface index: UInt32) -> Bool {
    let fd: Int32
    if let known = sockets[index] {
      fd = known
    } else {
      fd = Self.open(index)
      sockets[index] = fd
    }
    guard fd >= 0 else { return false }
    return Glibc.send(fd, frame, length, Int32(MSG_DONTWAIT)) == length
  }

  private static func open(_ index: UInt32) -> Int32 {
    var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(index, &name) != nil else { return -1 }
    let flags = cxdp_interface_flags(name)
    guard flags >= 0, flags & cxdp_flag_loopback() == 0 else { return -1 }
    return cxdp_packet_socket(Int32(index))
  }
}
