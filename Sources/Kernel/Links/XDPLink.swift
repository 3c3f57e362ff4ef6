import BPF
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
    _ program: LoadedProgram, interfaceIndex: UInt32, mode: AttachMode
  ) throws(SystemCallError) -> XDPLink {
    let fd = try ZeroedStorage.options(bpf_link_create_opts.self) {
      (options) throws(SystemCallError) in
      options.pointee.flags = mode.flags
      return try check(
        "attach program \"\(program.name)\" to interface \(interfaceIndex) (\(mode))"
      ) {
        bpf_link_create(
          program.descriptor.rawValue, Int32(bitPattern: interfaceIndex), BPF_XDP, options)
      }
    }
    return XDPLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the link pinned at `path`.
  public static func open(pinnedAt path: String) throws(SystemCallError) -> XDPLink {
    let fd = try check("open pinned link \(path)") { bpf_obj_get(path) }
    return XDPLink(descriptor: KernelDescriptor(owning: fd))
  }

  /// Opens the link with kernel id `id` during a walk of every link;
  /// `nil` when it vanished (ENOENT) or is still being created by another
  /// process after a short wait: the kernel lists a link's id before the
  /// link is settled and answers EAGAIN until then (`bpf_link_by_id`).
  static func openSettled(id: UInt32) throws(SystemCallError) -> XDPLink? {
    for _ in 0..<50 {
      do {
        return try open(id: id)
      } catch  where error.errno == .notFound {
        return nil
      } catch  where error.errno == .wouldBlock {
        usleep(200)
      }
    }
    return nil
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
    try ZeroedStorage.options(bpf_link_update_opts.self) { (options) throws(SystemCallError) in
      if let current {
        options.pointee.flags = UInt32(BPF_F_REPLACE)
        options.pointee.old_prog_fd = UInt32(bitPattern: current.descriptor.rawValue)
      }
      try check("replace the program of link \(idText) by \"\(program.name)\"") {
        bpf_link_update(descriptor.rawValue, program.descriptor.rawValue, options)
      }
    }
  }

  /// Detaches the program from the interface. The link object lives on
  /// (defunct) until its last descriptor and pin are gone.
  public func detach() throws(SystemCallError) {
    try check("detach link \(idText)") { bpf_link_detach(descriptor.rawValue) }
  }

  /// Pins the link at `path` so it outlives this process.
  public func pin(at path: String) throws(SystemCallError) {
    try check("pin link at \(path)") { bpf_obj_pin(descriptor.rawValue, path) }
  }

  /// The link's kernel id, program id and interface
  /// (`BPF_OBJ_GET_INFO_BY_FD`). A failure is thrown with the kernel's
  /// errno: it says nothing about whether the attachment still exists.
  public func info() throws(SystemCallError) -> Info {
    let info = try ObjectInfo.read(
      bpf_link_info.self, of: descriptor, "read the information of link fd \(descriptor.rawValue)")
    return Info(
      id: info.id, programID: info.prog_id, type: info.type,
      interfaceIndex: info.type == BPF_LINK_TYPE_XDP.rawValue ? info.xdp.ifindex : 0)
  }

  /// How a link's ``Info`` is read: ``info()`` normally; a test gives a
  /// reader that fails with a chosen errno to show that a failed read
  /// changes nothing.
  public typealias InfoReader = @Sendable (XDPLink) throws(SystemCallError) -> Info

  /// The kernel's answer (``info()``).
  public static let kernelInfo: InfoReader = { link throws(SystemCallError) in try link.info() }

  /// The link id for messages, or the descriptor when the kernel will not say.
  private var idText: String {
    (try? info()).map { String($0.id) } ?? "fd \(descriptor.rawValue)"
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

  /// Every XDP link in the kernel attached to `interfaceIndex`, with its
  /// information, found by walking link ids. A link that vanishes during
  /// the walk (ENOENT) is skipped; any other failure is thrown.
  public static func links(onInterface interfaceIndex: UInt32) throws(SystemCallError) -> [(
    link: XDPLink, info: Info
  )] {
    var found: [(link: XDPLink, info: Info)] = []
    var id: UInt32 = 0
    while bpf_link_get_next_id(id, &id) == 0 {
      guard let link = try openSettled(id: id) else { continue }
      let info = try link.info()
      if info.isXDP, info.interfaceIndex == interfaceIndex { found.append((link, info)) }
    }
    return found
  }
}
