import Datapath
import Foundation
import Glibc
import Inspection
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import Deployment

/// The built binary run twice at once, and killed at random points: every
/// time exactly one program runs, a record names it, the counters pin
/// exists, and the next command finds and repairs whatever was left.
@Suite(
  .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)),
  .enabled(
    if: FileManager.default.fileExists(atPath: PackageLayout.samplesDirectory.path + "/xdp1.o"),
    "make samples"))
struct ReliabilityTests {
  static let samples = PackageLayout.samplesDirectory.path
  /// Two programs to alternate between: (object, program name).
  static let programs = [
    (samples + "/xdp_classify.o", "xdp_classify_prog"), (samples + "/xdp1.o", "xdp_prog1"),
  ]

  static func attachArguments(_ interface: String, _ which: Int) -> [String] {
    ["attach", interface, programs[which].0, "--program", programs[which].1]
  }

  /// Starts the binary with `arguments`, output discarded.
  static func start(_ arguments: [String], errors: Pipe? = nil) throws -> Process {
    let process = Process()
    process.executableURL = try #require(BuiltXDPBatch.url) as URL
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors ?? FileHandle.nullDevice
    try process.run()
    return process
  }

  /// A killed swap may leave its datapath child coming up: the child
  /// installs its redirect program itself and finishes the move after its
  /// parent died (it is then adopted). Waits, as the next command's
  /// recovery does, until that child answers on its control socket or is
  /// gone (at most 15 s, the launcher's own wait), so what the kernel runs
  /// is read after the last change, not during it.
  static func awaitStartingDatapath(_ interface: String) {
    let state = StateDirectory()
    let launcher = DatapathLauncher(executable: "", state: state)
    let client = DatapathClient(interface: interface, state: state)
    let deadline = Date().addingTimeInterval(15)
    while launcher.launchedChild(interface).exists, Date() < deadline {
      if case .success = Result(catching: { () throws(DatapathError) in try client.status() }) {
        return
      }
      usleep(50_000)
    }
  }

  /// The ids of the XDP programs the kernel runs on `interface`.
  static func kernelPrograms(_ interface: String) throws -> [UInt32] {
    try InterfaceInventory.query()[name: interface]?.programs.map(\.id) ?? []
  }

  /// Exactly one program runs, the record names it, the counters pin is
  /// there, and `stats` reports it.
  static func expectOneRecordedProgram(
    _ interface: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let running = try kernelPrograms(interface)
    #expect(running.count == 1, "\(context): one program runs", sourceLocation: sourceLocation)
    let record = StateDirectory().record(interface: interface)
    #expect(
      record?.programID == running.first, "\(context): the record names it",
      sourceLocation: sourceLocation)
    #expect(
      PinDirectory.exists(PinDirectory(interface: interface).countersPath),
      "\(context): the counters pin exists", sourceLocation: sourceLocation)
    try expectStatsReportKernel(interface, context, sourceLocation: sourceLocation)
  }

  /// `stats` reports the program the kernel runs (or that none runs).
  static func expectStatsReportKernel(
    _ interface: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let running = try kernelPrograms(interface)
    let stats = try BuiltXDPBatch.run(["stats", interface, "--json"])
    guard let id = running.first else {
      #expect(stats.status == 1, "\(context): \(stats.output)", sourceLocation: sourceLocation)
      #expect(
        stats.errors.contains("has no program attached"), "\(context): \(stats.errors)",
        sourceLocation: sourceLocation)
      return
    }
    #expect(stats.status == 0, "\(context): \(stats.errors)", sourceLocation: sourceLocation)
    let document =
      (try? JSONSerialization.jsonObject(with: Data(stats.output.utf8))) as? [String: Any]
    #expect(
      (document?["program_id"] as? Int).map(UInt32.init) == id,
      "\(context): stats reports the kernel's program", sourceLocation: sourceLocation)
    let kernelName = try LoadedProgram.open(id: id).info().name
    let reported = document?["program"] as? String ?? ""
    if document?["datapath"] as? String == "software" || document?["datapath_dead"] as? Bool == true
    {
      // A software datapath (a killed swap's, adopted): the link runs its
      // redirect program, and stats names the program the datapath (or,
      // dead, the kernel fallback) runs, the record's.
      #expect(kernelName == "xdpbatch_xsk", "\(context)", sourceLocation: sourceLocation)
      #expect(
        reported == StateDirectory().record(interface: interface)?.program && !reported.isEmpty,
        "\(context): stats names \(reported), the record another", sourceLocation: sourceLocation)
      return
    }
    #expect(
      reported.hasPrefix(kernelName) && !kernelName.isEmpty,
      "\(context): stats names \(reported), the kernel runs \(kernelName)",
      sourceLocation: sourceLocation)
  }

  @Test func concurrentFreshAttachesAndReplacements() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    // 50 fresh attaches, two processes each time.
    for round in 0..<50 {
      let errors = [Pipe(), Pipe()]
      let both = try (0..<2).map {
        try Self.start(Self.attachArguments(interface, $0), errors: errors[$0])
      }
      for process in both { process.waitUntilExit() }
      let messages = errors.map {
        String(decoding: $0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      }
      for (process, message) in zip(both, messages) where process.terminationStatus != 0 {
        #expect(message.contains("another xdpbatch is changing \(interface)"), "\(message)")
      }
      #expect(both.contains { $0.terminationStatus == 0 }, "round \(round): \(messages)")
      try Self.expectOneRecordedProgram(interface, "fresh round \(round)")
      let detached = try BuiltXDPBatch.run(["detach", interface])
      #expect(detached.status == 0, "\(detached.errors)")
      try CommandLineTests.expectUntouched(interface)
    }
    // 50 replacements, two processes each time.
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 0)).status == 0)
    for round in 0..<50 {
      let both = try (0..<2).map { try Self.start(Self.attachArguments(interface, $0)) }
      for process in both { process.waitUntilExit() }
      #expect(both.allSatisfy { $0.terminationStatus == 0 }, "round \(round)")
      try Self.expectOneRecordedProgram(interface, "replacement round \(round)")
    }
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
    try CommandLineTests.expectUntouched(interface)
  }

  @Test func killedAttachAndSwapAreRepairedByTheNextCommand() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    var random = SeededRandom(state: 0x9e37_79b9)
    // How long one replacement takes here, so that the kill points cover
    // the whole of an attach (most of which is process start-up) and
    // half of them fall in its last part, where the kernel changes.
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 1)).status == 0)
    let started = Date()
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 1)).status == 0)
    let whole = UInt32(min(max(Date().timeIntervalSince(started), 0.05), 2) * 1_000_000)
    var leftPending = 0
    for round in 0..<36 {
      // Every third round a swap (of whatever is attached), else an attach.
      let which = round % 2
      let arguments =
        round % 3 == 2 ? ["swap", interface] : Self.attachArguments(interface, which)
      let process = try Self.start(arguments)
      usleep(
        round.isMultiple(of: 2)
          ? UInt32.random(in: 0...whole * 11 / 10, using: &random)
          : UInt32.random(in: whole / 2...whole, using: &random))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      Self.awaitStartingDatapath(interface)
      let context = "round \(round) (\(arguments[0]))"
      let pending = StateDirectory().pendingRecord(interface: interface)
      if let pending, try Self.kernelPrograms(interface).first == pending.programID {
        leftPending += 1
      }
      // Whatever was left, stats tells what the kernel runs.
      try Self.expectStatsReportKernel(interface, context + ", after the kill")
      let running = try Self.kernelPrograms(interface)
      #expect(running.count <= 1, "\(context)")
      // ... and after it, the record names the program the kernel runs
      // (the pending record was made the record if it was that one).
      if let id = running.first {
        #expect(
          StateDirectory().record(interface: interface)?.programID == id,
          "\(context): the record names the kernel's program")
      }
      // The next command recovers.
      let next = try BuiltXDPBatch.run(Self.attachArguments(interface, 1 - which))
      #expect(next.status == 0, "\(context): \(next.errors)")
      try Self.expectOneRecordedProgram(interface, context + ", after the next attach")
      #expect(StateDirectory().record(interface: interface)?.program == Self.programs[1 - which].1)
    }
    // How often a kill fell between the kernel's switch and the record's
    // (the case that needs the pending record); for the report, not asserted.
    print(
      "ReliabilityTests: \(leftPending) of 36 kills left the kernel on the pending record's program"
    )
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
    try CommandLineTests.expectUntouched(interface)
    #expect(!FileManager.default.fileExists(atPath: StateDirectory().path + "/\(interface).lock"))
    let left = try FileManager.default.contentsOfDirectory(atPath: StateDirectory().path)
    #expect(
      !left.contains { $0.hasPrefix(interface + ".") }, "no file of \(interface) is left: \(left)")
  }

  /// A swap that finished before its kill leaves the software datapath
  /// running: the link runs its redirect program, and `stats` names the
  /// program the datapath runs (what the kill rounds above then see).
  @Test func statsAfterASwapToTheSoftwareDatapathNamesItsProgram() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 1)).status == 0)
    let swap = try BuiltXDPBatch.run(["swap", interface])
    #expect(swap.status == 0, "\(swap.errors)")
    #expect(StateDirectory().record(interface: interface)?.isSoftware == true)
    try Self.expectStatsReportKernel(interface, "after the swap")
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
    try CommandLineTests.expectUntouched(interface)
  }

  @Test func lostCountersPinIsPinnedAgain() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 0)).status == 0)
    let pins = PinDirectory(interface: interface)
    let mapID = try #require(try XDPAttachment.open(interface: interface)).counters.map.id
    // What an older xdpbatch's rollback did under a concurrent attach.
    #expect(unlink(pins.countersPath) == 0)
    let stats = try BuiltXDPBatch.run(["stats", interface, "--json"])
    #expect(stats.status == 0, "\(stats.errors)")
    #expect(PinDirectory.exists(pins.countersPath))
    #expect(try #require(try XDPAttachment.open(interface: interface)).counters.map.id == mapID)
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
    try CommandLineTests.expectUntouched(interface)
  }

  @Test func recordsArePrivate() throws {
    let network = try TestNetwork()
    defer {
      StateDirectory().removeRecord(interface: network.veth.name)
      network.tearDown()
    }
    let interface = network.veth.name
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 0)).status == 0)
    var status = stat()
    #expect(stat(StateDirectory().recordPath(interface: interface), &status) == 0)
    #expect(status.st_mode & 0o777 == 0o600, "the record is 0600")
    #expect(stat(StateDirectory().path, &status) == 0)
    #expect(status.st_mode & 0o777 == 0o700, "its directory is 0700")
    // An unprivileged user can read neither.
    let peek = try runProcess(
      URL(fileURLWithPath: "/usr/bin/setpriv"),
      [
        "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/cat",
        StateDirectory().recordPath(interface: interface),
      ])
    #expect(peek.status != 0)
    #expect(peek.output.isEmpty)
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
  }

  /// Tests leave no lock or record of their interfaces in /run/xdpbatch
  /// (issue 24): a network torn down with xdpbatch's program still
  /// attached takes the interface's files with it.
  @Test func aTornDownNetworkLeavesNoStateFiles() throws {
    let network = try TestNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    #expect(try BuiltXDPBatch.run(Self.attachArguments(interface, 0)).status == 0)
    #expect(!TestNetwork.stateFiles(of: interface).isEmpty, "the attach kept a record")
    network.tearDown()
    #expect(TestNetwork.stateFiles(of: interface) == [])
  }
}
