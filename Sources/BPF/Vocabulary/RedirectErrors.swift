/// REDIRECT verdicts whose frame did not leave, by reason: what both
/// datapaths show beside the REDIRECT count, which counts only the frames
/// that left.
///
/// A reason is the kernel's error name where there is one (`ENETDOWN`:
/// the target is down; `EOPNOTSUPP`: the target cannot take XDP frames;
/// `ENXIO`, `EMSGSIZE`, ...), as the kernel's `xdp:xdp_redirect_err`
/// and `xdp:xdp_devmap_xmit` tracepoints report it, or the software
/// datapath's `send` fails; `dropped` for frames a target's driver
/// dropped without an error; and the software datapath's own limits:
/// `xskmap` (an AF_XDP socket of the user's), `cpumap`, `broadcast`.
/// JSON: an object of reason to packets.
public struct RedirectErrors: Hashable, Codable, Sendable {
  /// Packets by reason.
  public var packets: [String: UInt64]

  /// None.
  public init(packets: [String: UInt64] = [:]) { self.packets = packets }

  /// Every failed redirect.
  public var total: UInt64 { packets.values.reduce(0, &+) }

  /// Adds `count` packets for `reason`.
  public mutating func add(_ count: UInt64, reason: String) {
    guard count > 0 else { return }
    packets[reason, default: 0] &+= count
  }

  /// Adds another set, reason by reason.
  public mutating func add(_ other: RedirectErrors) {
    for (reason, count) in other.packets { add(count, reason: reason) }
  }

  /// What increased since `earlier` (a reason's count that fell, a new
  /// map counting from zero, counts as what it is now).
  public func since(_ earlier: RedirectErrors) -> RedirectErrors {
    var delta = RedirectErrors()
    for (reason, count) in packets {
      let before = earlier.packets[reason] ?? 0
      delta.add(count >= before ? count - before : count, reason: reason)
    }
    return delta
  }

  /// The reason for a kernel error number (negative, as the tracepoints
  /// report it, or positive): its name, `E<number>` when it has none
  /// here, `dropped` for 0.
  public static func reason(errno value: Int32) -> String {
    guard value != 0 else { return "dropped" }
    let number = value == Int32.min ? Int32.max : abs(value)
    return names[number] ?? "E\(number)"
  }

  /// The names of the errors a redirect meets (asm-generic/errno*.h).
  private static let names: [Int32: String] = [
    1: "EPERM", 2: "ENOENT", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 11: "EAGAIN", 12: "ENOMEM",
    16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 28: "ENOSPC", 34: "ERANGE",
    90: "EMSGSIZE", 95: "EOPNOTSUPP", 100: "ENETDOWN", 101: "ENETUNREACH", 105: "ENOBUFS",
    113: "EHOSTUNREACH", 524: "ENOTSUPP",
  ]

  /// One line for people: `12 (ENETDOWN 10: the target interface is down;
  /// dropped 2: …)`, or `0`.
  public var summary: String {
    guard total > 0 else { return "0" }
    let parts = packets.filter { $0.value > 0 }.sorted { $0.value > $1.value }.map {
      "\($0.key) \($0.value): \(Self.meaning(of: $0.key))"
    }
    return "\(total) (" + parts.joined(separator: "; ") + ")"
  }

  /// What a reason means for the operator.
  public static func meaning(of reason: String) -> String {
    switch reason {
    case "ENETDOWN": "the target interface is down"
    case "EOPNOTSUPP":
      "the target cannot take XDP frames (a veth needs an XDP program on its peer)"
    case "ENXIO", "ENODEV": "the target interface is gone"
    case "EMSGSIZE": "the frame is larger than the target's MTU"
    case "EINVAL": "no such target"
    case "ENOBUFS", "EAGAIN", "ENOSPC": "the target's queue was full"
    case "dropped": "dropped by the target's driver"
    case "xskmap": "to an AF_XDP socket, which the software datapath cannot reach"
    case "cpumap": "to a CPU, which the software datapath does not steer to"
    case "broadcast": "broadcast, which the software datapath does not carry out"
    default: "the kernel's error \(reason)"
    }
  }

  public init(from decoder: any Decoder) throws {
    packets = try decoder.singleValueContainer().decode([String: UInt64].self)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(packets)
  }
}
