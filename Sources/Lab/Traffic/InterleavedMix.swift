import Deployment
import Kernel
import BPF

/// Traffic whose verdicts under the classifier sample (xdp_classify) are
/// interleaved frame by frame, at full speed: the traffic generator's
/// program rewrites each repeat of one template frame, so every RX batch
/// holds all five verdicts (a full-speed run repeats one frame, so a
/// plain ``TrafficMix`` would give each queue a single verdict for
/// seconds, and grouping a batch's actions would have nothing to group).
///
/// Frame `n` (counted in a one-element array map, `n` = 0, 1, ... on one
/// sending thread) becomes variant `(n * 0x9E3779B1 mod 2^32) >> 29`:
/// 0-2 UDP to port 9 (DROP), 3-4 to port 7 (TX), 5 to port 53 (PASS), 6
/// the IPv6 EtherType over a header whose next-header byte says TCP
/// (REDIRECT), 7 cut to 20 bytes (ABORTED). Pseudo-random, so that no
/// branch predictor learns the order, yet reproducible: ``variant(of:)``
/// and ``frame(variant:)`` say what frame `n` was. The kernel keeps
/// rewritten bytes between repeats; every byte the choice depends on is
/// written each time.
public enum InterleavedMix {
  /// The frame the program rewrites: IPv4 UDP to port 9, 60 bytes.
  public static let template = FrameTemplate.udp(
    from: TrafficMix.sourceMAC, to: TrafficMix.destinationMAC, source: [198, 18, 0, 2],
    destination: [198, 19, 0, 1], sourcePort: 40000, destinationPort: 9)

  /// The frame counter the program keeps.
  public static let counterMap = MapDefinition(
    name: "xdpbatch_mixn", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)

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

  /// The generator's program (map 0 is ``counterMap``; returns `XDP_TX`
  /// like ``TrafficGenerator/transmitProgram``).
  public static var program: Program {
    let length = Int32(template.bytes.count)
    let ipv4: Int32 = 0x0008  // 0x0800 in network order, stored little-endian
    let ipv6: Int32 = 0xdd86
    func port(_ value: Int32) -> Int32 { (value & 0xff) << 8 | value >> 8 }
    var instructions: [Instruction] = [
      .move(.r6, .r1),
      .store(.word, immediate: 0, to: .r10, offset: -4),
      .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    instructions += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
    instructions += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 28),  // -> out
      .load(.word, .r7, from: .r0, offset: 0),
      .move(.r8, .r7),
      .add(.r8, immediate: 1),
      .store(.word, .r8, to: .r0, offset: 0),
      .arithmetic(.mul, .r7, immediate: Int32(bitPattern: multiplier), wide: false),
      .arithmetic(.rsh, .r7, immediate: 29, wide: false),
      .load(.word, .r2, from: .r6, offset: 0),  // ctx->data
      .load(.word, .r3, from: .r6, offset: 4),  // ctx->data_end
      .move(.r4, .r2),
      .add(.r4, immediate: 38),
      .jump(.jgt, .r4, .r3, offset: 17),  // -> out
      .store(.byte, immediate: 6, to: .r2, offset: 20),  // IPv6 next header: TCP
      .store(.halfWord, immediate: ipv4, to: .r2, offset: 12),
      .jump(.jgt, .r7, immediate: 2, offset: 2),
      .store(.halfWord, immediate: port(9), to: .r2, offset: 36),  // 0...2: DROP
      .jump(offset: 12),
      .jump(.jgt, .r7, immediate: 4, offset: 2),
      .store(.halfWord, immediate: port(7), to: .r2, offset: 36),  // 3, 4: TX
      .jump(offset: 9),
      .jump(.jne, .r7, immediate: 5, offset: 2),
      .store(.halfWord, immediate: port(53), to: .r2, offset: 36),  // 5: PASS
      .jump(offset: 6),
      .jump(.jne, .r7, immediate: 6, offset: 2),
      .store(.halfWord, immediate: ipv6, to: .r2, offset: 12),  // 6: REDIRECT
      .jump(offset: 3),
      .move(.r1, .r6),  // 7: ABORTED, cut to 20 bytes
      .move(.r2, immediate: 20 - length),
      .call(helper: HelperFunction.xdpAdjustTail.rawValue),
      // out:
      .move(.r0, immediate: Int32(XDPAction.tx.rawValue)),
      .exit,
    ]
    return Program(name: "xdpbatch_genmix", sectionName: "xdp", instructions: instructions)
  }
}
