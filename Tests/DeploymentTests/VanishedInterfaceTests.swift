import Deployment
import Foundation
import Glibc
import Kernel
import KernelTestSupport
import TestSupport
import Testing

/// An interface deleted under xdpbatch, as an operator's `ip link del`
/// does: `stats --interval` stops with an error naming it (exit 1) where
/// it went on printing the last counters, and what xdpbatch kept for it
/// in the state directory goes with the next command that reads it,
/// where it stayed until an interface of that name appeared again.
@Suite(.serialized, .kernelAccess, .builtXDPBatch, .sample("xdp_classify"))
struct VanishedInterfaceTests {
  static let classifier = PackageLayout.sample("xdp_classify")

  /// `xdpbatch stats` running in the background, its streams in files.
  final class BackgroundStats {
    let process = Process()
    let folder: URL
    var outputPath: String { folder.appendingPathComponent("out").path }
    var errorPath: String { folder.appendingPathComponent("err").path }

    init(_ arguments: [String]) throws {
      folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "xbt-stats-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
      FileManager.default.createFile(atPath: outputPath, contents: nil)
      FileManager.default.createFile(atPath: errorPath, contents: nil)
      process.executableURL = try #require(BuiltXDPBatch.url)
      process.arguments = ["stats"] + arguments
      process.standardOutput = FileHandle(forWritingAtPath: outputPath)
      process.standardError = FileHandle(forWritingAtPath: errorPath)
      try process.run()
    }

    deinit {
      if process.isRunning {
        // SIGKILL: a child spawned from a thread that blocks SIGTERM
        // (Signals) inherits the mask, and `terminate()` would not end it.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
      }
      try? FileManager.default.removeItem(at: folder)
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
  }

  /// Attaches the classifier to `interface` (kernel datapath).
  static func attach(_ interface: String) throws {
    let attached = try BuiltXDPBatch.run([
      "attach", interface, classifier, "--program", "xdp_classify_prog",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
  }

  @Test func statsStopsWhenItsInterfaceIsDeleted() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let index = try #require(NetworkInterface.index(of: interface))
    try Self.attach(interface)
    let stats = try BackgroundStats([interface, "--json", "--interval", "0.2"])
    #expect(eventually(seconds: 15) { stats.output.contains("\n") }, "no report: \(stats.errors)")
    network.veth.delete()
    let stopped = eventually(seconds: 10) { !stats.process.isRunning }
    #expect(stopped, "stats still runs 10 s after \(interface) was deleted")
    guard stopped else { return }
    #expect(stats.process.terminationStatus == 1)
    #expect(
      stats.errors
        == "xdpbatch: error: interface \(interface) (index \(index)) no longer exists: "
        + "it was deleted while its counters were watched\n")
    // And what xdpbatch kept for it went with it.
    #expect(TestNetwork.stateFiles(of: interface) == [])
  }

  @Test func whatWasKeptForADeletedInterfaceGoesWithTheNextCommand() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let other = try TestNetwork()
    defer { other.tearDown() }
    let interface = network.veth.name
    try Self.attach(interface)
    let state = StateDirectory()
    #expect(state.record(interface: interface) != nil)
    do {
      // Held while the interface goes and its files are looked at: another
      // test's command would remove them meanwhile.
      let lock = try InterfaceLock.acquire(interface: interface, state: state)
      withExtendedLifetime(lock) {
        network.veth.delete()
        // The kernel detached the link; the files stayed.
        #expect(
          Set(TestNetwork.stateFiles(of: interface)) == [
            state.recordPath(interface: interface), state.file(interface + ".lock"),
          ])
      }
    }
    // A command on another interface reads the state directory.
    let stats = try BuiltXDPBatch.run(["stats", other.veth.name])
    #expect(stats.status == 1, "\(stats.output)")
    #expect(TestNetwork.stateFiles(of: interface) == [])
    #expect(!PinDirectory.exists(PinDirectory(interface: interface).path))
    #expect(StateFileAudit.unjustifiedFiles(of: interface).isEmpty)
  }

  /// A deleted interface whose lock another command holds (its own
  /// removal by a concurrent command, or an attach) is waited for: after
  /// the next command, its files are gone. Before, the next command
  /// skipped it and left every file.
  @Test func aDeletedInterfaceBusyWithAnotherCommandIsWaitedFor() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let other = try TestNetwork()
    defer { other.tearDown() }
    let interface = network.veth.name
    try Self.attach(interface)
    let state = StateDirectory()
    // This test holds the deleted interface's lock for a second while
    // `stats` on another interface runs.
    let stats = try {
      let lock = try InterfaceLock.acquire(interface: interface, state: state)
      return try withExtendedLifetime(lock) {
        network.veth.delete()
        let stats = try ReliabilityTests.start(["stats", other.veth.name])
        usleep(1_000_000)
        return stats
      }
    }()
    stats.waitUntilExit()
    #expect(stats.terminationStatus == 1)
    #expect(TestNetwork.stateFiles(of: interface) == [])
    #expect(!PinDirectory.exists(PinDirectory(interface: interface).path))
  }

  /// A command run in another network namespace (`ip netns exec`, which
  /// also hides the host's bpffs from it) cannot see the host's
  /// interfaces, and leaves what xdpbatch keeps for them alone. Before,
  /// it took every host interface for deleted and removed its record and
  /// lock while the program ran on (ReliabilityTests once found a record
  /// gone right after an attach: PrivilegeAndPinNameTests runs a command
  /// in a namespace).
  @Test func aCommandInAnotherNetworkNamespaceLeavesTheHostsInterfacesAlone() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    try Self.attach(interface)
    let state = StateDirectory()
    let record = try #require(state.record(interface: interface))
    #expect(record.networkNamespace == NetworkNamespace.currentIdentifier)
    #expect(record.networkNamespace != nil)
    let files = TestNetwork.stateFiles(of: interface)
    #expect(
      Set(files) == [state.recordPath(interface: interface), state.file(interface + ".lock")])
    let binary = try #require(BuiltXDPBatch.url)
    let inside = try runProcess(
      URL(fileURLWithPath: "/usr/sbin/ip"),
      ["netns", "exec", network.namespace.name, binary.path, "detach", "lo"])
    #expect(inside.status == 1)
    #expect(inside.errors.contains("xdpbatch has no program attached to lo"), "\(inside.errors)")
    #expect(Set(TestNetwork.stateFiles(of: interface)) == Set(files))
    #expect(state.record(interface: interface) == record)
    #expect(PinDirectory.exists(PinDirectory(interface: interface).linkPath))
    let detached = try BuiltXDPBatch.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
    #expect(TestNetwork.stateFiles(of: interface) == [])
  }

  /// Files kept for an interface with no record (what a killed command
  /// leaves) whose datapath process runs in another network namespace
  /// are that namespace's: a command here leaves them and the process
  /// alone; with the process here, it stops it and removes them.
  @Test func aDatapathProcessInAnotherNamespaceKeepsItsInterfacesFiles() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let ghost = network.veth.name + "g"
    let state = StateDirectory()
    try state.create()
    let lock = state.file(ghost + ".lock")
    defer { unlink(lock) }
    for namespace in [network.namespace.name, nil] {
      #expect(FileManager.default.createFile(atPath: lock, contents: nil))
      let process = try Self.standInDatapath(for: ghost, in: namespace)
      defer { process.stop() }
      let detach = try BuiltXDPBatch.run(["detach", network.veth.name])
      #expect(detach.status == 1, "\(detach.errors)")
      let context = namespace.map { "in \($0)" } ?? "here"
      #expect(FileManager.default.fileExists(atPath: lock) == (namespace != nil), "\(context)")
      // Stopped here (SIGTERM, then SIGKILL: a child of the test process
      // may inherit a mask that blocks SIGTERM) before the command
      // returned: dead, if not yet reaped.
      #expect(process.isAlive == (namespace != nil), "\(context)")
    }
  }

  /// A process whose arguments are a datapath's (`datapath run IFACE`):
  /// xargs waiting for its input, in `namespace` or here.
  final class StandIn {
    let process = Process()
    let input = Pipe()

    /// Whether the process runs (exists and is not a zombie: the test
    /// process reaps it only later).
    var isAlive: Bool {
      let stat = try? String(
        contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
      guard let stat, let close = stat.lastIndex(of: ")") else { return false }
      return !stat[close...].hasPrefix(") Z")
    }

    func stop() {
      input.fileHandleForWriting.closeFile()
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
    }
  }

  static func standInDatapath(for interface: String, in namespace: String?) throws -> StandIn {
    let standIn = StandIn()
    let arguments = ["datapath", "run", interface]
    if let namespace {
      standIn.process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
      standIn.process.arguments = ["netns", "exec", namespace, "xargs"] + arguments
    } else {
      standIn.process.executableURL = URL(fileURLWithPath: "/usr/bin/xargs")
      standIn.process.arguments = arguments
    }
    standIn.process.standardInput = standIn.input
    standIn.process.standardError = FileHandle.nullDevice
    try standIn.process.run()
    let deadline = Date().addingTimeInterval(5)
    while Processes.running(withArguments: arguments).isEmpty, Date() < deadline {
      usleep(10_000)
    }
    try #require(Processes.running(withArguments: arguments) == [standIn.process.processIdentifier])
    return standIn
  }
}
