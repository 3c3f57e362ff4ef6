/// Where the fields of one XDP context record lie, and how far apart
/// consecutive records of a batch are.
///
/// The engine's record (docs/DESIGN.md) is ``engine``: `struct xdp_md`'s six
/// 32-bit fields, then the batch verdict (`act`) and the per-buffer redirect
/// slot, 32 bytes in all. A kernel that carries the batch patches has its own
/// layout, read from its BTF (``KernelBatchInterface``); the rewriter takes
/// the layout as a value and never assumes these numbers.
public struct XDPContextLayout: Hashable, Sendable {
  /// Offset of `data` (u32).
  public var data: Int16
  /// Offset of `data_end` (u32).
  public var dataEnd: Int16
  /// Offset of `data_meta` (u32).
  public var dataMeta: Int16
  /// Offset of `ingress_ifindex` (u32).
  public var ingressInterfaceIndex: Int16
  /// Offset of `rx_queue_index` (u32).
  public var receiveQueueIndex: Int16
  /// Offset of `egress_ifindex` (u32).
  public var egressInterfaceIndex: Int16
  /// Offset of the verdict the batch epilogue stores (u32).
  public var action: Int16
  /// Offset of the per-buffer redirect target (u32); `nil` when the runner
  /// keeps redirect targets out of the records (the kernel does).
  public var redirectTarget: Int16?
  /// Distance in bytes from one record to the next.
  public var stride: Int32

  /// Describes a record layout.
  public init(
    data: Int16, dataEnd: Int16, dataMeta: Int16, ingressInterfaceIndex: Int16,
    receiveQueueIndex: Int16, egressInterfaceIndex: Int16, action: Int16, redirectTarget: Int16?,
    stride: Int32
  ) {
    self.data = data
    self.dataEnd = dataEnd
    self.dataMeta = dataMeta
    self.ingressInterfaceIndex = ingressInterfaceIndex
    self.receiveQueueIndex = receiveQueueIndex
    self.egressInterfaceIndex = egressInterfaceIndex
    self.action = action
    self.redirectTarget = redirectTarget
    self.stride = stride
  }

  /// The `act` value that marks a padding record: a runner that must hand
  /// a program a full batch (the `immediate` bound) fills the rest with
  /// records carrying it, and the batch trampoline skips them without
  /// running the program. Not a verdict (verdicts are 0...4).
  public static let paddingAction: Int32 = 0x7061_6464

  /// The engine's 32-byte record (docs/DESIGN.md, "Context record").
  public static let engine = XDPContextLayout(
    data: 0, dataEnd: 4, dataMeta: 8, ingressInterfaceIndex: 12, receiveQueueIndex: 16,
    egressInterfaceIndex: 20, action: 24, redirectTarget: engineRedirectSlot, stride: 32)

  /// Where the engine's record keeps its redirect target.
  public static let engineRedirectSlot: Int16 = 28
}

/// The five XDP verdicts, by their kernel values.
public enum XDPAction: UInt32, Sendable, CaseIterable, Hashable {
  case aborted = 0
  case drop = 1
  case pass = 2
  case tx = 3
  case redirect = 4

  /// The verdict a program's return value means: any value above 4 counts
  /// as ``aborted``, as the kernel treats it. Inlinable: the software
  /// datapath reads one a frame, and a call into this module per frame
  /// cost more than the switch.
  @inlinable public init(returnValue: UInt64) {
    switch returnValue {
    case 1: self = .drop
    case 2: self = .pass
    case 3: self = .tx
    case 4: self = .redirect
    default: self = .aborted
    }
  }

  /// The lower-case name used in JSON (`"drop"`).
  public var name: String {
    switch self {
    case .aborted: "aborted"
    case .drop: "drop"
    case .pass: "pass"
    case .tx: "tx"
    case .redirect: "redirect"
    }
  }
}
