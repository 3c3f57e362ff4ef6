import Kernel

/// Where the software datapath delivers PASS frames: into the interface's
/// own receive path, as if no datapath were there.
///
/// A frame AF_XDP took from an interface cannot be handed back to the
/// kernel on that interface, so it goes in through a TAP device: the
/// datapath writes it to the TAP, and a traffic-control filter at the
/// TAP's ingress (``IngressRedirect``: `u32` matching everything, `mirred
/// ingress redirect`) moves it into the interface's receive path before
/// the TAP's stack sees it. The host then receives it on the interface:
/// ARP and neighbour discovery update the interface's tables and answer
/// from it with its MAC, sockets bound to its addresses get their frames,
/// tcpdump on it sees them. `act_mirred` marks the frame redirected, so
/// the interface's XDP (native or generic) does not run it again; what the
/// host sends leaves through the interface as always (XDP sees ingress only).
///
/// The TAP has the interface's MAC and MTU (frames keep their bytes: the
/// TAP classifies them as for this host, and the interface does so again),
/// no ARP and no IPv6 address, so it never sends anything of its own, and
/// no address.
/// On a veth, TCP and UDP checksums the peer left to offload are computed
/// first (``OffloadedChecksum``). Each frame costs a `write` (an skb and a copy), the filter
/// (one key compared) and the redirect; the filter works as well at the
/// TAP's egress, so a batched sender (`sendmmsg` on a packet socket bound
/// to the TAP) can take the write's place without another design.
///
/// The device is not persistent: it goes when the datapath closes it or dies.
final class PassDevice {
  /// The TAP device.
  private let device: TapDevice

  /// The TAP device's name.
  var name: String { device.name }
  /// Whether the interface is a veth, whose peer leaves checksums to offload.
  private let completesChecksums: Bool

  /// Makes the TAP device for interface `index` (`interface`), with its
  /// MAC and MTU, brings it up and redirects its ingress into the interface.
  init(interface: String, index: UInt32) throws(DatapathError) {
    let name = PassDeviceName.of(interfaceIndex: index)
    let found: LinkRecord?
    do {
      found = try LinkRecord.named(interface)
    } catch {
      throw .kernel(error)
    }
    guard let link = found else { throw .interfaceNotFound(interface) }
    do {
      device = try TapDevice(
        name: name,
        settings: LinkSettings(
          hardwareAddress: link.hardwareAddress.count == 6 ? link.hardwareAddress : nil,
          mtu: link.mtu > 0 ? link.mtu : nil, noARP: true, withoutIPv6Addresses: true, up: true))
    } catch {
      throw .passDevice(error)
    }
    completesChecksums = link.kind == "veth"
    do {
      try IngressRedirect.install(
        from: device.index, name: name, to: index, targetName: interface)
    } catch {
      throw .passDevice(.configure(name: name, error))
    }
  }

  /// Delivers one Ethernet frame to the interface's stack; false when the
  /// device did not take it.
  func deliver(_ frame: UnsafeMutableRawPointer, length: Int) -> Bool {
    guard length >= 14 else { return false }
    if completesChecksums { OffloadedChecksum.complete(frame, length: length) }
    return device.write(frame, length: length)
  }
}

/// The name of the TAP device PASS frames of an interface go through.
public enum PassDeviceName {
  /// `xdptIFINDEX`: unique among the namespace's interfaces whatever their
  /// names (any 15 characters, dots and dashes), at most 14 characters.
  public static func of(interfaceIndex index: UInt32) -> String { "xdpt\(index)" }

  /// The name for `interface` as it is now (its index); nil when it is gone.
  public static func `for`(_ interface: String) -> String? {
    NetworkInterface.index(of: interface).map { of(interfaceIndex: $0) }
  }
}

/// Sockets that send frames out of other interfaces, for REDIRECT verdicts
/// the software datapath carries out: a packet socket per target
/// interface, opened on first use. Loopback and missing interfaces cannot
/// take XDP redirects (the kernel fails them too): those count as
/// redirect errors, with the reason.
final class RedirectPorts {
  private var sockets: [UInt32: PacketSocket] = [:]
  /// Targets that could not be opened, when, and why: tried again after
  /// ``retryNanoseconds`` (an interface may come up or back).
  private var refused: [UInt32: (time: UInt64, errno: Int32)] = [:]
  static let retryNanoseconds: UInt64 = 100_000_000

  /// Sends one frame out of interface `index`; 0 when it left, else the
  /// kernel's errno.
  func send(_ frame: UnsafeRawPointer, length: Int, toInterface index: UInt32) -> Int32 {
    if let socket = sockets[index] { return socket.send(frame, length: length) }
    let now = QueueWorker.now()
    if let last = refused[index], now &- last.time < Self.retryNanoseconds { return last.errno }
    do {
      let socket = try PacketSocket(interfaceIndex: index)
      sockets[index] = socket
      refused[index] = nil
      return socket.send(frame, length: length)
    } catch {
      refused[index] = (now, error.errno.rawValue)
      return error.errno.rawValue
    }
  }
}
