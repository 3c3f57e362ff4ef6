/// What the software datapath's slow paths cost in system calls: the
/// frames PASS and REDIRECT handed to the kernel and the `sendmmsg` calls
/// that took them (one per batch, and per target interface, unless the
/// kernel refused a frame).
public struct SlowPathCalls: Hashable, Codable, Sendable {
  /// PASS frames sent into the TAP device.
  public var passFrames: UInt64 = 0
  /// System calls that sent them.
  public var passCalls: UInt64 = 0
  /// REDIRECT frames handed to a target interface's packet socket.
  public var redirectFrames: UInt64 = 0
  /// System calls that sent them.
  public var redirectCalls: UInt64 = 0

  /// None yet.
  public init() {}

  /// These counts.
  init(passFrames: UInt64, passCalls: UInt64, redirectFrames: UInt64, redirectCalls: UInt64) {
    self.passFrames = passFrames
    self.passCalls = passCalls
    self.redirectFrames = redirectFrames
    self.redirectCalls = redirectCalls
  }

  mutating func add(_ other: SlowPathCalls) {
    passFrames &+= other.passFrames
    passCalls &+= other.passCalls
    redirectFrames &+= other.redirectFrames
    redirectCalls &+= other.redirectCalls
  }
}
