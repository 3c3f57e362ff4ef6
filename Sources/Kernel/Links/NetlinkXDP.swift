import BPF
import CBPF
import CLinux
import Glibc

/// XDP attachments through netlink (`IFLA_XDP`) rather than BPF links:
/// what `ip link set … xdp`, xdp-loader and older loaders make, and how
/// the kernel reports every attachment, link or not.
public enum NetlinkXDP {
  /// The programs attached to interface `index`, one per mode at most,
  /// native first (`bpf_xdp_query`).
  public static func programs(interfaceIndex index: UInt32, interface: String)
    throws(SystemCallError) -> [(mode: AttachMode?, id: UInt32)]
  {
    let candidates: [(AttachMode?, UInt32)] = try ZeroedStorage.options(bpf_xdp_query_opts.self) {
      (options) throws(SystemCallError) in
      try check("query the XDP programs of \(interface)") {
        bpf_xdp_query(Int32(bitPattern: index), 0, options)
      }
      let answer = options.pointee
      return [
        (.native, answer.drv_prog_id), (.generic, answer.skb_prog_id),
        (.offload, answer.hw_prog_id), (nil, answer.prog_id),
      ]
    }
    return candidates.filter { $0.1 != 0 }.map { (mode: $0.0, id: $0.1) }
  }

  /// Attaches `program` to interface `index` in `mode` (`bpf_xdp_attach`).
  public static func attach(
    _ program: LoadedProgram, interfaceIndex index: UInt32, mode: AttachMode
  )
    throws(SystemCallError)
  {
    try check("attach program \"\(program.name)\" to interface \(index) (\(mode))") {
      bpf_xdp_attach(Int32(bitPattern: index), program.descriptor.rawValue, mode.flags, nil)
    }
  }

  /// Detaches whatever program runs on interface `index` in `mode`
  /// (`bpf_xdp_detach`).
  public static func detach(
    programID: UInt32, from interface: String, interfaceIndex index: UInt32, mode: AttachMode
  ) throws(SystemCallError) {
    try check("detach program \(programID) from \(interface)") {
      bpf_xdp_detach(Int32(bitPattern: index), mode.flags, nil)
    }
  }

  /// Replaces `current` by `next` on interface `index` in one step
  /// (`XDP_FLAGS_REPLACE`); the kernel refuses if `current` is not the
  /// program attached. `modeFlags` is the attachment's `XDP_FLAGS_*_MODE`
  /// (0 when the kernel did not say).
  public static func replace(
    _ current: LoadedProgram, with next: LoadedProgram, interfaceIndex index: UInt32,
    modeFlags: UInt32, description: String
  ) throws(SystemCallError) {
    try ZeroedStorage.options(bpf_xdp_attach_opts.self) { (options) throws(SystemCallError) in
      options.pointee.old_prog_fd = current.descriptor.rawValue
      try check("replace \(description)") {
        bpf_xdp_attach(
          Int32(bitPattern: index), next.descriptor.rawValue,
          modeFlags | UInt32(XDP_FLAGS_REPLACE), options)
      }
    }
  }
}

/// Replaces one XDP program on an interface by another in one step,
/// whichever way it is attached: through a BPF link (xdpbatch's, or
/// another loader's) with `bpf_link_update`, or through netlink with
/// `XDP_FLAGS_REPLACE`; both refuse if the expected program is not the
/// one attached.
public struct ProgramSwap: Sendable {
  /// The interface's index.
  public let interfaceIndex: UInt32
  /// The interface, for messages.
  public let interface: String
  /// The mode of the netlink attachment (`XDP_FLAGS_*_MODE`; 0 unknown).
  public let modeFlags: UInt32
  /// The id of the program attached when the swap was made.
  public let programID: UInt32
  /// The link attaching the program, when a link does.
  public let link: XDPLink?

  /// Finds how program `programID` is attached to interface
  /// `interfaceIndex` (a link attached to it, else netlink in `mode`).
  public init(interface: String, interfaceIndex: UInt32, programID: UInt32, mode: AttachMode?)
    throws(SystemCallError)
  {
    self.interface = interface
    self.interfaceIndex = interfaceIndex
    self.programID = programID
    modeFlags = mode?.flags ?? 0
    link = try XDPLink.links(onInterface: interfaceIndex).first {
      $0.info.programID == programID
    }?.link
  }

  /// Puts `next` where `current` runs; the kernel refuses if `current` is
  /// not the program attached.
  public func replace(_ current: LoadedProgram, with next: LoadedProgram) throws(SystemCallError) {
    if let link {
      try link.update(to: next, expecting: current)
      return
    }
    try NetlinkXDP.replace(
      current, with: next, interfaceIndex: interfaceIndex, modeFlags: modeFlags,
      description: "program \(programID) on \(interface)")
  }
}
