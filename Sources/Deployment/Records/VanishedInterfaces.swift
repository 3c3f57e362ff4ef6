import Datapath
import Foundation
import Glibc
import Inspection
import Kernel

/// What xdpbatch keeps for interfaces that no longer exist. Deleting an
/// interface detaches its XDP link in the kernel, but its record, lock,
/// datapath log and process lock in the state directory, its pins and a
/// capture marker stayed until an interface of that name appeared again.
extension StateDirectory {
  /// The suffixes of the files kept for an interface, longest first
  /// (interface names may hold dots: `eth0.100`).
  static let interfaceFileSuffixes = [
    ".capture.json", ".json.next", ".datapath", ".json", ".lock", ".log", ".sock",
  ]

  /// The interfaces that have a file in the directory, by name, sorted.
  public func interfacesWithFiles() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    var interfaces: Set<String> = []
    // Temporaries (`FILE.tmp.PID`) end in their writer's pid: not matched.
    for name in names {
      guard let suffix = Self.interfaceFileSuffixes.first(where: { name.hasSuffix($0) }) else {
        continue
      }
      let interface = String(name.dropLast(suffix.count))
      if !interface.isEmpty { interfaces.insert(interface) }
    }
    return interfaces.sorted()
  }
}

extension ProgramDeployment {
  /// Removes everything xdpbatch keeps for each interface that no longer
  /// exists (record, pending record, lock, datapath log and process lock,
  /// control socket, capture marker, pins), and returns those interfaces.
  ///
  /// A command at work on such an interface (another command's removal,
  /// or an attach to a new interface of that name) is waited for, up to
  /// ``vanishedLockWait`` seconds, so that once this returns what was kept
  /// for a deleted interface is gone, whoever removed it. An interface is
  /// left as it is when its lock stays held that long, when it exists
  /// again once the lock is held, when it was attached in another network
  /// namespace (``isKeptElsewhere(_:here:)``), or when the kernel still
  /// reports its pinned link attached (the interface moved to another
  /// network namespace, where its program still runs) or cannot say. A
  /// datapath process of a deleted interface serves nothing (its link is
  /// detached): it is stopped, as recovery stops any such process.
  /// Removal runs holding the interface's lock, which goes last, so a
  /// concurrent attach of a new interface of that name waits for it and
  /// then finds nothing.
  /// How long ``removeVanishedInterfaces()`` waits for a command at work
  /// on a deleted interface (a removal stops its datapath: SIGTERM, up to
  /// 5 s, then its TAP device).
  public static let vanishedLockWait = 10.0

  @discardableResult
  public func removeVanishedInterfaces() -> [String] {
    var removed: [String] = []
    let here = NetworkNamespace.currentIdentifier
    for interface in state.interfacesWithFiles()
    where NetworkInterface.index(of: interface) == nil && !isKeptElsewhere(interface, here: here) {
      guard let lock = lockForRemoval(interface) else { continue }
      defer { withExtendedLifetime(lock) {} }
      guard NetworkInterface.index(of: interface) == nil, !isKeptElsewhere(interface, here: here)
      else { continue }
      // Opening the pinned link unpins it when the kernel reports it
      // detached; nil also when there is no pin.
      let attached: XDPAttachment?
      do {
        attached = try XDPAttachment.open(interface: interface, readInfo: kernel.readLinkInfo)
      } catch {
        continue
      }
      guard attached == nil else { continue }
      _ = FrameCapture.restoreLeftover(interface: interface, state: state)
      DatapathRecovery(state: state, launcher: launcher).removeEverything(
        interface: interface,
        record: state.record(interface: interface) ?? state.pendingRecord(interface: interface))
      removed.append(interface)
    }
    return removed
  }

  /// `interface`'s lock for removing what is kept for it, waiting up to
  /// ``vanishedLockWait`` seconds; nil when another command holds it
  /// longer, or when nothing is left. A command that removed everything
  /// meanwhile removed the lock file too: taking the lock then would make
  /// a new one, seen in the directory until this command let it go.
  private func lockForRemoval(_ interface: String) -> InterfaceLock? {
    do {
      if let lock = try InterfaceLock.acquireIfPresent(
        interface: interface, state: state, waiting: Self.vanishedLockWait)
      {
        return lock
      }
      // No lock file; what a killed command left may still be there.
      guard state.interfacesWithFiles().contains(interface) else { return nil }
      return try InterfaceLock.acquire(
        interface: interface, state: state, waiting: Self.vanishedLockWait)
    } catch {
      return nil
    }
  }

  /// Whether what is kept for `interface` belongs to another network
  /// namespace than `here`, this command's: its record or pending record
  /// was saved there, or a datapath process of that name runs there. The
  /// state directory is shared by every network namespace of a mount
  /// namespace (`ip netns exec` runs a command in another one, and hides
  /// the host's bpffs from it), so an interface this command cannot see
  /// may be alive where it was attached. Also true when the namespaces
  /// cannot be read: left alone, as when the kernel cannot say.
  func isKeptElsewhere(_ interface: String, here: UInt64?) -> Bool {
    guard let here else { return true }
    let records = [state.record(interface: interface), state.pendingRecord(interface: interface)]
    if records.contains(where: { ($0?.networkNamespace).map { $0 != here } ?? false }) {
      return true
    }
    let processes = DatapathRecovery(state: state, launcher: launcher).processes(
      of: interface, record: records.compactMap { $0 }.first)
    return processes.contains { NetworkNamespace.identifier(ofProcess: $0) != here }
  }
}
