import BPF

/// The XDP programs attached to an interface, as `IFLA_XDP` reports them.
public struct XDPAttachmentState: Hashable, Codable, Sendable {
  /// Program id in native (driver) mode, 0 for none.
  public var nativeProgramID: UInt32
  /// Program id in generic (skb) mode, 0 for none.
  public var genericProgramID: UInt32
  /// Program id offloaded to the NIC, 0 for none.
  public var offloadProgramID: UInt32

  /// Nothing attached.
  public static let none = XDPAttachmentState(
    nativeProgramID: 0, genericProgramID: 0, offloadProgramID: 0)

  /// Describes an attachment state.
  public init(nativeProgramID: UInt32, genericProgramID: UInt32, offloadProgramID: UInt32) {
    self.nativeProgramID = nativeProgramID
    self.genericProgramID = genericProgramID
    self.offloadProgramID = offloadProgramID
  }

  // IFLA_XDP_* (linux/if_link.h) and XDP_ATTACHED_* values.
  private enum Attribute {
    static let attached: UInt16 = 2
    static let programID: UInt16 = 4
    static let nativeProgramID: UInt16 = 5
    static let genericProgramID: UInt16 = 6
    static let offloadProgramID: UInt16 = 7
  }

  /// Reads the nested attributes of `IFLA_XDP`. With one program the kernel
  /// sends the mode in `IFLA_XDP_ATTACHED` and the id in `IFLA_XDP_PROG_ID`;
  /// with several (`XDP_ATTACHED_MULTI`) one id per mode.
  init(netlink attributes: [NetlinkAttribute]) {
    var state = XDPAttachmentState.none
    let single = attributes[type: Attribute.programID]?.uint32 ?? 0
    switch attributes[type: Attribute.attached]?.uint8 ?? 0 {
    case 1: state.nativeProgramID = single
    case 2: state.genericProgramID = single
    case 3: state.offloadProgramID = single
    default: break
    }
    if let id = attributes[type: Attribute.nativeProgramID]?.uint32 { state.nativeProgramID = id }
    if let id = attributes[type: Attribute.genericProgramID]?.uint32 { state.genericProgramID = id }
    if let id = attributes[type: Attribute.offloadProgramID]?.uint32 { state.offloadProgramID = id }
    self = state
  }

  /// Every attached program with its mode, native first.
  public var programs: [(mode: AttachMode, id: UInt32)] {
    [
      (AttachMode.native, nativeProgramID), (.generic, genericProgramID),
      (.offload, offloadProgramID),
    ]
    .filter { $0.1 != 0 }.map { (mode: $0.0, id: $0.1) }
  }

  /// Whether any program is attached.
  public var isAttached: Bool { !programs.isEmpty }

  /// The mode the kernel runs program `id` in, `nil` when it is not attached.
  public func mode(ofProgram id: UInt32) -> AttachMode? {
    programs.first { $0.id == id }?.mode
  }

  /// What `IFLA_XDP` reports for the interface with index `index` now
  /// (one `RTM_GETLINK` dump); ``none`` when the interface is gone.
  public static func query(interfaceIndex index: UInt32) throws(SystemCallError)
    -> XDPAttachmentState
  {
    let links = try LinkRecord.dump(over: NetlinkSocket(protocol: NetlinkSocket.route))
    return links.first { $0.index == index }?.xdp ?? .none
  }
}
