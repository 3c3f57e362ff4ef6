import BPF
import CBPF
import Glibc
import Kernel

/// An XDP program that xdpbatch attached to an interface through a pinned
/// BPF link, with the interface's pinned action-counters map.
///
/// The pins (``PinDirectory``) make the attachment outlive the process;
/// ``open(interface:)`` finds it again. Every operation either completes
/// or leaves the interface, the pins and the kernel as they were.
public struct XDPAttachment: Sendable {
  /// The interface name.
  public let interface: String
  /// The interface index.
  public let interfaceIndex: UInt32
  /// Where the link and counters are pinned.
  public let pins: PinDirectory
  /// The link holding the attachment.
  public let link: XDPLink
  /// The interface's action counters, shared by every program attached there.
  public let counters: ActionCounters
  /// How the link's information is read (the kernel, or a test's reader).
  let readInfo: XDPLink.InfoReader

  /// An attachment made of its parts.
  init(
    interface: String, interfaceIndex: UInt32, pins: PinDirectory, link: XDPLink,
    counters: ActionCounters, readInfo: @escaping XDPLink.InfoReader = XDPLink.kernelInfo
  ) {
    self.interface = interface
    self.interfaceIndex = interfaceIndex
    self.pins = pins
    self.link = link
    self.counters = counters
    self.readInfo = readInfo
  }

  /// The program now attached (read from the link).
  public func program() throws(SystemCallError) -> LoadedProgram {
    try LoadedProgram.open(id: readInfo(link).programID)
  }

  /// The mode the kernel runs the attached program in, as `IFLA_XDP`
  /// reports it (not as any record remembers it); `nil` when the kernel
  /// reports the program in no mode (detached since).
  public func mode() throws(SystemCallError) -> AttachMode? {
    let id = try programID()
    return try XDPAttachmentState.query(interfaceIndex: interfaceIndex).mode(ofProgram: id)
  }

  /// The kernel id of the program now attached (read from the link).
  public func programID() throws(SystemCallError) -> UInt32 {
    try readInfo(link).programID
  }

  /// Attaches `spec`'s program to `interface` in `mode` through a new
  /// BPF link, pinned with the interface's counters map (created on first
  /// use, reused afterwards). `beforeAttaching` sees the loaded program
  /// before the kernel runs it (to record it); if it throws, nothing is
  /// attached.
  ///
  /// The steps are ordered so that a process killed at any point leaves a
  /// state the next call recognises: the counters pin first (reused by the
  /// next attach), then the link, which the kernel drops with the process
  /// until it is pinned; once pinned, the attachment is complete.
  ///
  /// If xdpbatch already has a program there, this replaces it
  /// (``replace(with:)``) when the kernel runs it in `mode`, and refuses
  /// with ``AttachError/modeMismatch(interface:attached:requested:)``
  /// otherwise (a link cannot change mode). A program attached by someone else is refused
  /// unless `force`; with `force` it is detached first, and attached again
  /// if anything later fails.
  public static func attach(
    _ spec: ProgramSpec, to interface: String, mode: AttachMode, force: Bool = false,
    pins: PinDirectory? = nil, readInfo: @escaping XDPLink.InfoReader = XDPLink.kernelInfo,
    beforeAttaching: (LoadedProgram) throws(AttachError) -> Void = { _ in }
  ) throws(AttachError) -> XDPAttachment {
    let pins = pins ?? PinDirectory(interface: interface)
    let index = try interfaceIndex(of: interface)
    if let existing = try open(interface: interface, pins: pins, readInfo: readInfo) {
      let attached = try kernel { () throws(SystemCallError) in try existing.mode() }
      if let attached, attached != mode {
        throw .modeMismatch(interface: interface, attached: attached, requested: mode)
      }
      try existing.replace(with: spec, beforeSwapping: beforeAttaching)
      return existing
    }
    var rollback = Rollback()
    defer { rollback.run() }
    try kernel { () throws(SystemCallError) in try pins.ensureMounted() }
    let foreign = try kernel { () throws(SystemCallError) in
      try ForeignPrograms(interface: interface, index: index)
    }
    if let program = foreign.programs.first, !force {
      throw .foreignProgram(interface: interface, program: program)
    }
    try kernel { () throws(SystemCallError) in try foreign.detach(into: &rollback) }
    for directory in try kernel({ () throws(SystemCallError) in try pins.create() }) {
      rollback.add { rmdir(directory) }
    }
    let (counters, created) = try kernel { () throws(SystemCallError) in
      try pins.openOrCreateCounters()
    }
    if created { rollback.add { unlink(pins.countersPath) } }
    let loaded = try Self.load(spec, counters: counters)
    try beforeAttaching(loaded.program)
    let link = try kernel { () throws(SystemCallError) in
      try XDPLink.attach(loaded.program, interfaceIndex: index, mode: mode)
    }
    try kernel { () throws(SystemCallError) in try link.pin(at: pins.linkPath) }
    rollback.commit()
    return XDPAttachment(
      interface: interface, interfaceIndex: index, pins: pins, link: link, counters: counters,
      readInfo: readInfo)
  }

  /// The attachment xdpbatch made on `interface`, from its pins; `nil`
  /// when there is none. A pinned link that the kernel reports as
  /// detached (the interface was removed or someone detached it) is
  /// unpinned. A failure to read the link (EPERM, EINTR, ENOMEM, ...) is
  /// thrown with the kernel's errno and changes nothing: only the
  /// kernel's positive answer "detached" removes a pin.
  public static func open(
    interface: String, pins: PinDirectory? = nil,
    readInfo: @escaping XDPLink.InfoReader = XDPLink.kernelInfo
  ) throws(AttachError) -> XDPAttachment? {
    let pins = pins ?? PinDirectory(interface: interface)
    guard PinDirectory.exists(pins.linkPath) else { return nil }
    let link: XDPLink
    do {
      link = try XDPLink.open(pinnedAt: pins.linkPath)
    } catch  where error.errno == .notFound {
      return nil
    } catch {
      throw .kernel(error)
    }
    let info = try kernel { () throws(SystemCallError) in try readInfo(link) }
    guard info.interfaceIndex != 0 else {
      unlink(pins.linkPath)
      return nil
    }
    let counters = try kernel { () throws(SystemCallError) in
      do throws(SystemCallError) {
        return try ActionCounters.open(pinnedAt: pins.countersPath)
      } catch  where error.errno == .notFound {
        // The link runs but its counters pin is gone: pin the program's
        // counters map again.
        guard
          let map = try CountersRecovery.repin(
            programID: info.programID, at: pins.countersPath)
        else { throw error }
        return ActionCounters(map: map)
      }
    }
    return XDPAttachment(
      interface: interface, interfaceIndex: info.interfaceIndex, pins: pins, link: link,
      counters: counters, readInfo: readInfo)
  }

  /// Loads `spec`'s program with this interface's counters map and
  /// swaps it in atomically (`bpf_link_update`, expecting the program
  /// attached now). On failure the old program stays attached.
  /// `beforeSwapping` sees the loaded program before the kernel switches
  /// (to record it); if it throws, nothing is switched.
  public func replace(
    with spec: ProgramSpec, beforeSwapping: (LoadedProgram) throws(AttachError) -> Void = { _ in }
  ) throws(AttachError) {
    let loaded = try Self.load(spec, counters: counters)
    try beforeSwapping(loaded.program)
    do {
      let current = try program()
      try link.update(to: loaded.program, expecting: current)
    } catch {
      throw .kernel(error)
    }
  }

  /// Detaches the program and removes the link and counters pins and the
  /// interface's pin directory.
  public func detach() throws(AttachError) {
    do {
      try link.detach()
    } catch {
      throw .kernel(error)
    }
    pins.removeAttachmentPins()
  }

  /// Detaches xdpbatch's program from `interface`.
  public static func detach(
    interface: String, pins: PinDirectory? = nil,
    readInfo: @escaping XDPLink.InfoReader = XDPLink.kernelInfo
  ) throws(AttachError) {
    guard let attachment = try open(interface: interface, pins: pins, readInfo: readInfo) else {
      throw .notAttached(interface: interface)
    }
    try attachment.detach()
  }

  /// The index of `interface` in the calling thread's namespace.
  static func interfaceIndex(of interface: String) throws(AttachError) -> UInt32 {
    guard let index = NetworkInterface.index(of: interface) else {
      throw .interfaceNotFound(interface)
    }
    return index
  }

  /// Loads `spec` with the interface's `counters`.
  static func load(_ spec: ProgramSpec, counters: ActionCounters) throws(AttachError)
    -> ProgramLoader.Loaded
  {
    do {
      return try spec.load(counters: counters)
    } catch {
      throw .load(error)
    }
  }
}

/// Runs a kernel call, reporting its failure (with the kernel's errno) as
/// ``AttachError/kernel(_:)``.
func kernel<T>(_ call: () throws(SystemCallError) -> T) throws(AttachError) -> T {
  do {
    return try call()
  } catch {
    throw .kernel(error)
  }
}

/// Undo steps collected while an operation advances, run in reverse
/// unless the operation commits.
struct Rollback {
  private var steps: [() -> Void] = []

  /// Adds an undo step.
  mutating func add(_ step: @escaping () -> Void) { steps.append(step) }

  /// Keeps everything: the undo steps are dropped.
  mutating func commit() { steps.removeAll() }

  /// Undoes, newest first.
  mutating func run() {
    for step in steps.reversed() { step() }
    steps.removeAll()
  }
}
