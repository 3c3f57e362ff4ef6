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
  /// Packets received per second over the last listing interval; `nil`
  /// before two readings or when the kernel's counters are unreadable.
  public var receivePacketsPerSecond: Double?

  /// Describes a row.
  public init(
    name: String, index: UInt32, driver: String? = nil, isI40e: Bool = false,
    state: String = "unknown", receiveQueues: UInt32 = 1, transmitQueues: UInt32 = 1,
    bus: String? = nil, macAddress: String = "", program: KernelProgram? = nil,
    receivePacketsPerSecond: Double? = nil
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
    self.receivePacketsPerSecond = receivePacketsPerSecond
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
  /// What the kernel says about it beyond the link record (tag, run
  /// statistics, maps); `nil` until read (the layer above reads it for
  /// the selected interface only).
  public var details: KernelProgramDetails?

  /// Describes an attached program.
  public init(
    id: UInt32, name: String?, attachMode: String, details: KernelProgramDetails? = nil
  ) {
    self.id = id
    self.name = name
    self.attachMode = attachMode
    self.details = details
  }
}

/// What the kernel knows about a program xdpbatch did not attach, as
/// `bpftool prog show` prints it: the console shows this instead of
/// counters, which only xdpbatch's counting pass produces.
public struct KernelProgramDetails: Hashable, Sendable {
  /// The program's tag (hash of its instructions), 16 hex digits.
  public var tag: String
  /// Runs counted while the kernel's run statistics were on.
  public var runCount: UInt64
  /// Nanoseconds spent in the program while the statistics were on.
  public var runTimeNanoseconds: UInt64
  /// The maps it uses, as `name (type, id N)`.
  public var maps: [String]

  /// Describes a program.
  public init(tag: String, runCount: UInt64, runTimeNanoseconds: UInt64, maps: [String]) {
    self.tag = tag
    self.runCount = runCount
    self.runTimeNanoseconds = runTimeNanoseconds
    self.maps = maps
  }

  /// Mean nanoseconds per run, `nil` before the first counted run.
  public var nanosecondsPerRun: Double? {
    runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
  }
}
