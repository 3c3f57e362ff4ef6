import BPF
import Frames

/// The demo's traffic: frames chosen so that the classifier sample
/// (Samples/xdp_classify.bpf.c) gives every one of the five verdicts, with
/// source ports and addresses varying from frame to frame.
///
/// Frames go to a MAC address no interface owns, so the host's stack
/// drops what the program passes as "for another host" and answers with
/// nothing that the counters would see.
public struct TrafficMix: Hashable, Sendable {
  /// The frames, in sending order.
  public var frames: [FrameTemplate]
  /// The verdict the classifier gives each frame (same order).
  public var expectedActions: [XDPAction]

  /// The sender's MAC address.
  public static let sourceMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
  /// A MAC address nobody owns.
  public static let destinationMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x99]

  /// `variants` frames of each kind (at least 1): UDP to port 9 (DROP),
  /// UDP to port 7 (TX), UDP to port 53 (PASS), IPv6 TCP (REDIRECT),
  /// IPv4 UDP cut inside its UDP header (ABORTED).
  public static func classifier(variants: Int = 4) -> TrafficMix {
    var mix = TrafficMix(frames: [], expectedActions: [])
    for variant in 0..<max(1, variants) {
      let port = UInt16(40000 + variant)
      let source: [UInt8] = [198, 18, 0, UInt8(2 + variant % 250)]
      let destination: [UInt8] = [198, 19, UInt8(variant / 250), UInt8(1 + variant % 250)]
      func udp(_ destinationPort: UInt16) -> FrameTemplate {
        .udp(
          from: sourceMAC, to: destinationMAC, source: source, destination: destination,
          sourcePort: port, destinationPort: destinationPort)
      }
      mix.append(udp(9), .drop)
      mix.append(udp(7), .tx)
      mix.append(udp(53), .pass)
      mix.append(ipv6TCP(sourcePort: port), .redirect)
      // Ethernet + IPv4 header + 4 of the 8 UDP header bytes.
      mix.append(FrameTemplate(bytes: Array(udp(9).bytes.prefix(14 + 20 + 4))), .aborted)
    }
    return mix
  }

  private mutating func append(_ frame: FrameTemplate, _ action: XDPAction) {
    frames.append(frame)
    expectedActions.append(action)
  }

  /// An IPv6 TCP SYN between addresses of 2001:2::/48 (RFC 5180).
  static func ipv6TCP(sourcePort: UInt16) -> FrameTemplate {
    let tcp: [UInt8] =
      [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), 0, 80] + [0, 0, 0, 1, 0, 0, 0, 0]
      + [0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
    let prefix: [UInt8] = [0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    let header: [UInt8] =
      [0x60, 0, 0, 0, 0, UInt8(tcp.count), 6, 64] + prefix + [2] + prefix + [1]
    return FrameTemplate(bytes: destinationMAC + sourceMAC + [0x86, 0xdd] + header + tcp)
  }
}
