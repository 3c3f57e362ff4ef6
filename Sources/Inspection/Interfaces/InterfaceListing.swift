import BPF
import Kernel

/// The interfaces `xdpbatch list` shows, in the order it shows them: i40e
/// ports first (they are what xdpbatch is for), then the rest, each group
/// in index order. Without `includeAll` only i40e ports are listed when
/// the machine has any.
public struct InterfaceListing: Hashable, Sendable {
  /// The interfaces to show, in order.
  public var interfaces: [NetworkInterface]
  /// Whether the machine has any i40e port.
  public var foundI40e: Bool
  /// Whether the kernel reported XDP features.
  public var reportsXDPFeatures: Bool
  /// The kernel's batch program interface, when it runs batch programs
  /// (read from its BTF by the caller).
  public var kernelBatch: KernelBatchInterface?

  /// Orders and filters a snapshot; `kernelBatch` is the kernel's batch
  /// program interface, if it has one.
  public init(
    _ inventory: InterfaceInventory, includeAll: Bool, kernelBatch: KernelBatchInterface? = nil
  ) {
    self.kernelBatch = kernelBatch
    let byIndex = inventory.interfaces.sorted { $0.index < $1.index }
    let i40e = byIndex.filter(\.isI40e)
    foundI40e = !i40e.isEmpty
    reportsXDPFeatures = inventory.reportsXDPFeatures
    if includeAll || i40e.isEmpty {
      interfaces = i40e + byIndex.filter { !$0.isI40e }
    } else {
      interfaces = i40e
    }
  }

  /// Lines to print before the list: that no i40e port exists, that XDP
  /// features are unknown on this kernel.
  public var notices: [String] {
    var notices: [String] = []
    if !foundI40e { notices.append("no i40e interface found; listing every interface") }
    if !reportsXDPFeatures {
      notices.append("this kernel has no netdev netlink family (Linux 6.3+): XDP features unknown")
    }
    return notices
  }

  /// The `list --json` document: one ``Entry`` per interface.
  public var entries: [Entry] {
    interfaces.map { Entry($0, kernelBatch: kernelBatch != nil) }
  }

  /// What the kernel says about batch XDP, for `list`: whether it runs
  /// batch programs, and with what records.
  public var batchNotice: String {
    guard let kernelBatch else {
      return "kernel: no batch XDP (the batch form runs in xdpbatch's software datapath)"
    }
    return
      "kernel: runs batch XDP programs (BPF_F_XDP_BATCH, \(kernelBatch.layout.stride)-byte records, "
      + "act at \(kernelBatch.layout.action)) on interfaces whose features include batch"
  }

  /// One element of `xdpbatch list --json`. The keys `name`, `ifindex`,
  /// `driver`, `i40e` and `xdp` {`program`, `mode`} are a stable contract
  /// (docs/DESIGN.md); the others may grow. Absent values are `null`.
  public struct Entry: Encodable, Hashable, Sendable {
    /// Interface name.
    public var name: String
    /// Interface index.
    public var ifindex: UInt32
    /// ethtool driver name, `null` when none.
    @NullWhenAbsent public var driver: String?
    /// Whether the driver is i40e.
    public var i40e: Bool
    /// The attached program.
    public var xdp: XDP
    /// MAC address.
    public var mac: String
    /// MTU.
    public var mtu: UInt32
    /// Operational state.
    public var state: OperationalState
    /// Bus address, `null` for virtual devices.
    @NullWhenAbsent public var bus: String?
    /// Receive queues.
    public var rxQueues: UInt32
    /// Transmit queues.
    public var txQueues: UInt32
    /// Feature names, `null` when the kernel does not report them.
    @NullWhenAbsent public var xdpFeatures: [String]?
    /// Whether the kernel runs batch programs on this interface: it has the
    /// batch program interface and the driver reports `batch`.
    public var batch: Bool

    /// The attached program: its name and mode, `null` for both when none.
    public struct XDP: Encodable, Hashable, Sendable {
      /// The program's name; `null` when none is attached, or when its
      /// name could not be read (without root the kernel gives only ids).
      @NullWhenAbsent public var program: String?
      /// The attach mode.
      @NullWhenAbsent public var mode: AttachMode?
      /// The kernel's program id.
      @NullWhenAbsent public var id: UInt32?
    }

    /// The entry for `interface`; `kernelBatch`: whether the kernel runs
    /// batch programs at all.
    public init(_ interface: NetworkInterface, kernelBatch: Bool = false) {
      name = interface.name
      ifindex = interface.index
      driver = interface.driver?.driver
      i40e = interface.isI40e
      let program = interface.program
      xdp = XDP(program: program?.name, mode: program?.mode, id: program?.id)
      mac = interface.macAddress
      mtu = interface.mtu
      state = interface.state
      bus = interface.driver.flatMap { $0.busInfo.isEmpty ? nil : $0.busInfo }
      rxQueues = interface.receiveQueues
      txQueues = interface.transmitQueues
      xdpFeatures = interface.xdpFeatures?.names
      batch = kernelBatch && interface.xdpFeatures?.contains(.batch) == true
    }
  }
}
