/// One row of the interface list, as the layer above reads it from the
/// kernel: plain values, ready to print. The console draws rows; it never
/// asks the kernel for them.
public struct InterfaceRow: Hashable, Sendable {
  /// The name (`ens1f0`).
  public var name: String
  /// The interface index.
  public var index: UInt32
  /// The driver's name (`i40e`, `veth`), `nil` when the driver has none.
  public var driver: String?
  /// Whether the device is an i40e port (marked and listed first).
  public var isI40e: Bool
  /// The operational state as the kernel names it (`up`, `down`).
  public var state: String
  /// Receive queues.
  public var receiveQueues: UInt32
  /// Transmit queues.
  public var transmitQueues: UInt32
  /// The bus address (`0000:3b:00.1`), `nil` when the device has none.
  public var bus: String?
  /// The hardware address as `aa:bb:cc:dd:ee:ff`, empty when none.
  public var macAddress: String
  /// The XDP program attached there (by xdpbatch or anyone), if any.
  public var program: KernelProgram?

  /// Describes a row.
  public init(
    name: String, index: UInt32, driver: String? = nil, isI40e: Bool = false,
    state: String = "unknown", receiveQueues: UInt32 = 1, transmitQueues: UInt32 = 1,
    bus: String? = nil, macAddress: String = "", program: KernelProgram? = nil
  ) {
    self.name = name
    self.index = index
    self.driver = driver
    self.isI40e = isI40e
    self.state = state
    self.receiveQueues = receiveQueues
    self.transmitQueues = transmitQueues
    self.bus = bus
    self.macAddress = macAddress
    self.program = program
  }
}

/// An XDP program the kernel reports attached to an interface.
public struct KernelProgram: Hashable, Sendable {
  /// The kernel's program id.
  public var id: UInt32
  /// The program's name, `nil` when it could not be read.
  public var name: String?
  /// Where the kernel runs it, as the kernel names it (`native`, `generic`).
  public var attachMode: String

  /// Describes an attached program.
  public init(id: UInt32, name: String?, attachMode: String) {
    self.id = id
    self.name = name
    self.attachMode = attachMode
  }
}
