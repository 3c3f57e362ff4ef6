import Frames

/// Traffic whose verdicts under the classifier sample (xdp_classify) are
/// interleaved frame by frame, at full speed, so every RX batch holds all
/// five verdicts (a plain ``TrafficMix`` sends runs of one template, so a
/// queue would see a single verdict for a while, and grouping a batch's
/// actions would have nothing to group).
///
/// Frame `n` of a sending thread (`n` = 0, 1, ...) is variant
/// `(n * 0x9E3779B1 mod 2^32) >> 29`: 0-2 UDP to port 9 (DROP), 3-4 to
/// port 7 (TX), 5 to port 53 (PASS), 6 the IPv6 EtherType over a header
/// whose next-header byte says TCP (REDIRECT), 7 cut to 20 bytes
/// (ABORTED). Pseudo-random, so that no branch predictor learns the
/// order, yet reproducible: ``variant(of:)`` and ``frame(variant:)`` say
/// what frame `n` was; ``order`` and ``frames`` give them to the
/// ``TrafficGenerator``.
public enum InterleavedMix {
  /// The frame the program rewrites: IPv4 UDP to port 9, 60 bytes.
  public static let template = FrameTemplate.udp(
    from: TrafficMix.sourceMAC, to: TrafficMix.destinationMAC, source: [198, 18, 0, 2],
    destination: [198, 19, 0, 1], sourcePort: 40000, destinationPort: 9)

  /// Variants 0 to 7.
  public static let variants = 8
  static let multiplier: UInt32 = 0x9E37_79B1

  /// The variant frame `n` becomes.
  public static func variant(of n: UInt32) -> Int { Int((n &* multiplier) >> 29) }

  /// The bytes of a variant, as the program writes them.
  public static func frame(variant: Int) -> FrameTemplate {
    var bytes = template.bytes
    bytes[20] = 6
    bytes[12] = 0x08
    bytes[13] = 0x00
    switch variant {
    case 0...2: (bytes[36], bytes[37]) = (0, 9)
    case 3...4: (bytes[36], bytes[37]) = (0, 7)
    case 5: (bytes[36], bytes[37]) = (0, 53)
    case 6: (bytes[12], bytes[13]) = (0x86, 0xdd)
    default: bytes = Array(bytes.prefix(20))
    }
    return FrameTemplate(bytes: bytes)
  }

  /// The eight variants, in order: the generator's templates.
  public static let frames: [FrameTemplate] = (0..<variants).map(frame(variant:))

  /// The template of frame `n` of a sending thread: its variant.
  public static let order: @Sendable (UInt64) -> Int = { n in
    variant(of: UInt32(truncatingIfNeeded: n))
  }
}
