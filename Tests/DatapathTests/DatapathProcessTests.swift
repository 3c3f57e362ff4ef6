import BPF
import Datapath
import Foundation
import Glibc
import Kernel
import Lab
import TestSupport
import Testing

/// The datapath as a process (`xdpbatch datapath run`): killed with
/// SIGKILL under traffic, the interface falls back to the kernel.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathProcessTests {
  /// Starts `xdpbatch datapath run` on the network's interface and waits
  /// until its control socket answers.
  static func launch(_ network: DatapathNetwork, form: Form) throws -> Process {
    let process = Process()
    process.executableURL = try #require(BuiltXDPBatch.url) as URL
    process.arguments = [
      "datapath", "run", network.veth.name, SoftwareDatapathTests.classify, "--program",
      "xdp_classify_prog", "--form", form.rawValue,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let client = DatapathClient(interface: network.veth.name)
    let answered = eventually(seconds: 10) { (try? client.status()) != nil }
    if !answered { process.terminate() }
    try #require(answered, "the datapath never answered on its control socket")
    return process
  }

  /// Connects to the unix socket at `path` as uid/gid 65534 (`nobody`,
  /// no groups), through setpriv and Debian's python3; prints `connected`
  /// or the errno's name.
  static func connectAsNobody(_ path: String) throws -> ProcessResult {
    let client = """
      import errno, socket, sys
      s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
      try:
          s.connect(sys.argv[1])
          print("connected")
      except OSError as e:
          print(errno.errorcode.get(e.errno, e.errno))
      """
    return try runProcess(
      URL(fileURLWithPath: setpriv),
      ["--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", client, path])
  }

  static let setpriv = "/usr/bin/setpriv"
  /// The system's python3 (a root-only pyenv shim is of no use to nobody).
  static let python = "/usr/bin/python3"

  @Test(
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: setpriv),
      "setpriv (util-linux) is not installed: cannot run a client as nobody"),
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: python),
      "/usr/bin/python3 is not installed: no unix-socket client to run as nobody"))
  func theControlSocketIsRootOnly() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let process = try Self.launch(network, form: .perPacket)
    defer {
      process.terminate()
      process.waitUntilExit()
    }
    let client = DatapathClient(interface: network.veth.name)
    // The socket is root's, 0600, in root's 0700 directory.
    var socketStatus = stat()
    var directoryStatus = stat()
    try #require(stat(client.path, &socketStatus) == 0)
    try #require(stat(StateDirectory().path, &directoryStatus) == 0)
    #expect(socketStatus.st_mode & S_IFMT == S_IFSOCK)
    #expect(socketStatus.st_mode & 0o777 == 0o600 && socketStatus.st_uid == 0)
    #expect(directoryStatus.st_mode & 0o777 == 0o700 && directoryStatus.st_uid == 0)
    // nobody cannot connect; root's status request is answered.
    let nobody = try Self.connectAsNobody(client.path)
    #expect(nobody.status == 0, "\(nobody.errors)")
    #expect(
      nobody.output.trimmingCharacters(in: .whitespacesAndNewlines) == "EACCES",
      "nobody: \(nobody.output) \(nobody.errors)")
    let status = try client.status()
    #expect(status.interface == network.veth.name && status.pid == process.processIdentifier)
    // The client works as nobody where nobody may connect: a socket of
    // nobody's own (so the EACCES above is the permissions', not a broken client's).
    let directory = "/tmp/xdpbatch-nobody-\(getpid())"
    mkdir(directory, 0o755)
    defer { rmdir(directory) }
    let path = directory + "/probe.sock"
    let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer {
      close(listener)
      unlink(path)
    }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: Array(path.utf8))
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    try #require(bound == 0 && listen(listener, 1) == 0 && chmod(path, 0o666) == 0)
    let control = try Self.connectAsNobody(path)
    #expect(control.output.hasPrefix("connected"), "\(control.output) \(control.errors)")
  }

  @Test func killNineFallsBackToTheKernel() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let process = try Self.launch(network, form: .batch)
    let client = DatapathClient(interface: network.veth.name)
    let tap = try client.status().passDevice
    #expect(if_nametoindex(tap) != 0)
    let generator = TrafficGenerator.start(
      .init(
        frames: [DatapathNetwork.udp(port: 9)], interface: network.veth.peer,
        namespace: network.namespace, fullSpeed: true))
    defer { generator.stop() }
    #expect(eventually { ((try? client.status())?.counters.actions[.drop].packets ?? 0) > 1000 })
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    // The kernel's own counters (the fallback's counting pass) keep growing.
    let pins = PinDirectory(interface: network.veth.name)
    let counters = ActionCounters(
      map: try KernelMap.open(pinnedAt: pins.countersPath, as: ActionCounters.definition))
    let first = try counters.read()[.drop].packets
    #expect(eventually { ((try? counters.read()[.drop].packets) ?? 0) > first + 1000 })
    // The process's sockets and TAP device went with it.
    #expect(eventually { if_nametoindex(tap) == 0 })
    #expect((try? client.status()) == nil)
  }
}
