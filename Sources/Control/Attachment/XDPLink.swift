import CBPF
import Glibc

/// A BPF link that attaches an XDP program to an interface.
///
/// The link owns the attachment: the program stays attached while the
/// link's descriptor is open or the link is pinned on a bpf filesystem, and
/// ``update(to:expecting:)`` swaps the program atomically, with no moment
/// where the interface runs without one.
public struct XDPLink: Sendable {
  /// The open link descriptor.
  public let descriptor: KernelDescriptor

  /// Wraps an open link descriptor.
  public init(descriptor: KernelDescriptor) {
    self.descriptor = descriptor
  }

  /// Attaches `program` to the interface with index `interfaceIndex`
  /// (`bpf_link_create`, attach type `BPF_XDP`). Fails with `EBUSY` when
  /// another program is attached in that mode.
  public static func attach(
    _ program: LoadedProgram, interfaceIndex: UInt32, mode: XDPMode
  ) throws(SystemCallError) -> XDPLink {
    var options = bpf_link_create_opts()
    options.sz = MemoryLayout<bpf_link_create_opts>.size
    options.flags = mode.flags
    let fd = try check(
      "attach program \"\(program.name)\" to interface \(interfaceIndex) (\(mode))"
    ) {
      bpf_link_create(
        program.descriptor.rawValue, Int32(bitPattern: interfaceIndex), BPF_XDP, &options)
    }
    return XDPLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the link pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> XDPLink {
    let fd = try check("open pinned link \(path)") { bpf_obj_get(path) }
    return XDPLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the link with kernel id `id`.
  public static func open(id: UInt32) throws(SystemCallError) -> XDPLink {
    let fd = try check("open link id \(id)") { bpf_link_get_fd_by_id(id) }
    return XDPLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Replaces the attached program by `program` in one step
  /// (`bpf_link_update`). With `expecting`, the kernel refuses if the
  /// attached program is not that one.
  public func update(to program: LoadedProgram, expecting current: LoadedProgram? = nil)
    throws(SystemCallError)
  {
    var options = bpf_link_update_opts()
    options.sz = MemoryLayout<bpf_link_update_opts>.size
    if let current {
      options.flags = UInt32(BPF_F_REPLACE)
      options.old_prog_fd = UInt32(bitPattern: current.descriptor.rawValue)
    }
    try check("replace the program of link \(info().id) by \"\(program.name)\"") {
      bpf_link_update(descriptor.rawValue, program.descriptor.rawValue, &options)
    }
  }

  /// Detaches the program from the interface. The link object lives on
  /// (defunct) until its last descriptor and pin are gone.
  public func detach() throws(SystemCallError) {
    try check("detach link \(info().id)") { bpf_link_detach(descriptor.rawValue) }
  }

  /// Pins the link at `path` so it outlives this process.
  public func pin(at path: String) throws(SystemCallError) {
    try check("pin link at \(path)") { bpf_obj_pin(descriptor.rawValue, path) }
  }

  /// The link's kernel id, program id and interface.
  public func info() -> Info {
    var info = bpf_link_info()
    var length = UInt32(MemoryLayout<bpf_link_info>.size)
    guard bpf_obj_get_info_by_fd(descriptor.rawValue, &info, &length) == 0 else {
      return Info(id: 0, programID: 0, type: 0, interfaceIndex: 0)
    }
    return Info(
      id: info.id, programID: info.prog_id, type: info.type,
      interfaceIndex: info.type == BPF_LINK_TYPE_XDP.rawValue ? info.xdp.ifindex : 0)
  }

  /// What the kernel reports about a link.
  public struct Info: Hashable, Sendable {
    /// The link's id.
    public var id: UInt32
    /// The attached program's id (0 once detached).
    public var programID: UInt32
    /// `enum bpf_link_type`.
    public var type: UInt32
    /// For XDP links: the interface (0 once detached).
    public var interfaceIndex: UInt32

    /// Whether this is an XDP link.
    public var isXDP: Bool { type == BPF_LINK_TYPE_XDP.rawValue }
  }

  /// Every XDP link in the kernel attached to `interfaceIndex`, found by
  /// walking link ids.
  public static func links(onInterface interfaceIndex: UInt32) -> [XDPLink] {
    var found: [XDPLink] = []
    var id: UInt32 = 0
    while bpf_link_get_next_id(id, &id) == 0 {
      guard let link = try? open(id: id) else { continue }
      let info = link.info()
      if info.isXDP, info.interfaceIndex == interfaceIndex { found.append(link) }
    }
    return found
  }
}
