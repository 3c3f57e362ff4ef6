import BPF

/// One network interface as xdpbatch sees it: rtnetlink's link record,
/// the driver's ethtool info, the `netdev` family's XDP features and the
/// attached XDP programs.
///
/// Codable so that a machine can be recorded (the i40e fixture in the
/// tests is such a recording) and listed as JSON.
public struct NetworkInterface: Hashable, Codable, Sendable {
  /// The name (`ens1f0`).
  public var name: String
  /// The interface index.
  public var index: UInt32
  /// The hardware address as `aa:bb:cc:dd:ee:ff`, empty when none.
  public var macAddress: String
  /// The MTU in bytes.
  public var mtu: UInt32
  /// The operational state.
  public var state: OperationalState
  /// The link kind of a virtual device (`veth`), `nil` for hardware.
  public var kind: String?
  /// The driver's ethtool info; `nil` when the driver has none.
  public var driver: DriverInfo?
  /// Receive queues.
  public var receiveQueues: UInt32
  /// Transmit queues.
  public var transmitQueues: UInt32
  /// XDP features; `nil` when the kernel has no `netdev` family to ask.
  public var xdpFeatures: XDPFeatures?
  /// Attached XDP programs, one per mode at most.
  public var programs: [AttachedProgram]

  /// Describes an interface.
  public init(
    name: String, index: UInt32, macAddress: String = "", mtu: UInt32 = 1500,
    state: OperationalState = .unknown, kind: String? = nil, driver: DriverInfo? = nil,
    receiveQueues: UInt32 = 1, transmitQueues: UInt32 = 1, xdpFeatures: XDPFeatures? = nil,
    programs: [AttachedProgram] = []
  ) {
    self.name = name
    self.index = index
    self.macAddress = macAddress
    self.mtu = mtu
    self.state = state
    self.kind = kind
    self.driver = driver
    self.receiveQueues = receiveQueues
    self.transmitQueues = transmitQueues
    self.xdpFeatures = xdpFeatures
    self.programs = programs
  }

  /// The driver xdpbatch is built around (Intel XL710/X710 family).
  public static let i40eDriver = "i40e"

  /// Whether the device is driven by i40e.
  public var isI40e: Bool { driver?.driver == Self.i40eDriver }

  /// The first attached program (native before generic before offload).
  public var program: AttachedProgram? { programs.first }
}

/// An XDP program attached to an interface.
public struct AttachedProgram: Hashable, Codable, Sendable {
  /// The attach mode.
  public var mode: AttachMode
  /// The kernel's program id.
  public var id: UInt32
  /// The program's name, `nil` when it could not be read.
  public var name: String?

  /// Describes an attached program.
  public init(mode: AttachMode, id: UInt32, name: String?) {
    self.mode = mode
    self.id = id
    self.name = name
  }
}

extension Array where Element == UInt8 {
  /// `aa:bb:cc:dd:ee:ff`.
  var macAddressText: String {
    map { byte in
      let digits = String(byte, radix: 16)
      return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: ":")
  }
}
