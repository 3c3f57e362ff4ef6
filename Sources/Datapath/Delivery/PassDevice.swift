import Kernel

/// Where the software datapath delivers PASS frames: a TAP device named
/// after the interface. A frame that AF_XDP took from an interface cannot
/// be handed back to the kernel on that interface, so the host stack sees
/// it arrive on the TAP device instead, with its destination MAC rewritten
/// to the TAP's (else the stack drops it as "other host"). Each frame is a
/// `write`, a copy and an skb: the PASS path costs far more than DROP.
///
/// The device is not persistent: it goes when the datapath closes it or dies.
final class PassDevice {
  /// The TAP device.
  private let device: TapDevice

  /// The TAP device's name.
  var name: String { device.name }

  /// Makes and brings up the TAP device for `interface`.
  init(interface: String) throws(DatapathError) {
    let name = PassDeviceName.for(interface)
    do {
      device = try TapDevice(name: name)
    } catch {
      throw .passDevice(name: name, errno: error.errno)
    }
  }

  /// Delivers one Ethernet frame to the host stack; false when the device
  /// did not take it.
  func deliver(_ frame: UnsafeMutableRawPointer, length: Int) -> Bool {
    guard length >= 14 else { return false }
    device.hardwareAddress.withUnsafeBytes {
      frame.copyMemory(from: $0.baseAddress!, byteCount: 6)
    }
    return device.write(frame, length: length)
  }
}

/// The name of the TAP device PASS frames of an interface go to.
public enum PassDeviceName {
  /// `IFACE-tap`, the interface name cut to 11 characters (names have at most 15).
  public static func `for`(_ interface: String) -> String { String(interface.prefix(11)) + "-tap" }
}

/// Sockets that send frames out of other interfaces, for REDIRECT verdicts
/// the software datapath carries out: a packet socket per target
/// interface, opened on first use. Loopback and missing interfaces cannot
/// take XDP redirects (the kernel fails them too): those count as
/// redirect-failed.
final class RedirectPorts {
  private var sockets: [UInt32: PacketSocket?] = [:]

  /// Sends one frame out of interface `index`; false when it cannot.
  func send(_ frame: UnsafeRawPointer, length: Int, toInterface index: UInt32) -> Bool {
    let socket: PacketSocket?
    if let known = sockets[index] {
      socket = known
    } else {
      socket = try? PacketSocket(interfaceIndex: index)
      sockets[index] = socket
    }
    return socket?.send(frame, length: length) ?? false
  }
}
