import Datapath
import Foundation
import Glibc
import Kernel
import TestSupport
import Testing

/// `attach --datapath software`, `swap` and `detach` run as three processes
/// at once on one interface: each holds the interface's lock for its whole
/// operation, so after every round the interface is in exactly one
/// consistent state, and a last `detach` leaves nothing.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathConcurrencyTests {
  /// Why a command of a round may fail without anything being wrong: the
  /// lock was busy for too long, or the command ran when nothing (or
  /// something else) was attached.
  static let acceptableFailures = [
    "another xdpbatch is changing", "has no program attached", "no record of which object",
  ]

  /// Starts the binary with `arguments`, standard error into `errors`.
  static func start(_ arguments: [String], errors: Pipe) throws -> Process {
    let process = Process()
    process.executableURL = try #require(BuiltXDPBatch.url) as URL
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    return process
  }

  /// The pids of `xdpbatch datapath run INTERFACE` processes (from /proc).
  static func datapathProcesses(_ interface: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
      guard let pid = pid_t(entry),
        let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
      else { return nil }
      let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      guard let run = words.firstIndex(of: "run"), run > 0, words[run - 1] == "datapath",
        words.count > run + 1, words[run + 1] == interface
      else { return nil }
      // A zombie (exited, not yet reaped by its parent) runs nothing.
      let status = (try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8)) ?? ""
      if let state = status.split(separator: ")").last?.split(separator: " ").first, state == "Z" {
        return nil
      }
      return pid
    }
  }

  /// Exactly one consistent state: nothing at all, or a record naming the
  /// kernel's one program with the pins, and (software) one live datapath
  /// process answering in the recorded form with its TAP device, or
  /// (kernel) no datapath process, socket pins or TAP device.
  static func expectConsistent(
    _ interface: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let state = StateDirectory()
    let running =
      try InterfaceInventory.query()[name: interface]?.programs.map(\.id) ?? []
    let processes = datapathProcesses(interface)
    let pins = DatapathPins(interface: interface)
    let tap = PassDeviceName.for(interface).map { if_nametoindex($0) != 0 } ?? false
    guard let record = state.record(interface: interface) else {
      #expect(running.isEmpty, "\(context): no record, no program", sourceLocation: sourceLocation)
      #expect(
        processes.isEmpty, "\(context): no record, no datapath process \(processes)",
        sourceLocation: sourceLocation)
      #expect(!tap, "\(context): no record, no TAP device", sourceLocation: sourceLocation)
      #expect(
        access(pins.directory.path, F_OK) != 0, "\(context): no record, no pins",
        sourceLocation: sourceLocation)
      #expect(
        access(state.path + "/\(interface).sock", F_OK) != 0,
        "\(context): no record, no control socket", sourceLocation: sourceLocation)
      return
    }
    #expect(running.count == 1, "\(context): one program runs", sourceLocation: sourceLocation)
    #expect(
      record.programID == running.first, "\(context): the record names it",
      sourceLocation: sourceLocation)
    #expect(
      access(pins.directory.countersPath, F_OK) == 0, "\(context): the counters pin",
      sourceLocation: sourceLocation)
    if record.isSoftware {
      let process = try #require(record.process, "\(context)", sourceLocation: sourceLocation)
      #expect(
        process.isAlive, "\(context): the recorded datapath runs", sourceLocation: sourceLocation)
      #expect(
        processes == [process.pid], "\(context): only the recorded datapath runs: \(processes)",
        sourceLocation: sourceLocation)
      let status = try? DatapathClient(interface: interface).status()
      #expect(
        status?.form == record.form && status?.pid == process.pid,
        "\(context): it answers in the recorded form", sourceLocation: sourceLocation)
      #expect(tap, "\(context): its TAP device", sourceLocation: sourceLocation)
      #expect(
        access(pins.socketsPath, F_OK) == 0 && access(pins.fallbackPath, F_OK) == 0,
        "\(context): its socket and fallback pins", sourceLocation: sourceLocation)
    } else {
      #expect(
        processes.isEmpty, "\(context): kernel datapath, no datapath process \(processes)",
        sourceLocation: sourceLocation)
      #expect(!tap, "\(context): kernel datapath, no TAP device", sourceLocation: sourceLocation)
      #expect(
        access(pins.socketsPath, F_OK) != 0, "\(context): kernel datapath, no sockets pin",
        sourceLocation: sourceLocation)
    }
  }

  @Test func concurrentAttachSwapAndDetachNeverInterleave() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attach = [
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--form",
    ]
    var random = SeededRandom(state: 0x5eed_10c5)
    var failures: [String: Int] = [:]
    for round in 0..<30 {
      var commands = [
        attach + [round.isMultiple(of: 2) ? "batch" : "per-packet"], ["swap", interface],
        ["detach", interface],
      ]
      commands.shuffle(using: &random)
      let errors = commands.map { _ in Pipe() }
      let processes = try zip(commands, errors).map { try Self.start($0, errors: $1) }
      let messages = errors.map {
        String(decoding: $0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      }
      for process in processes { process.waitUntilExit() }
      for (index, process) in processes.enumerated() where process.terminationStatus != 0 {
        let message = messages[index]
        let known = Self.acceptableFailures.first { message.contains($0) }
        #expect(known != nil, "round \(round): \(commands[index]) failed: \(message)")
        failures[known ?? message, default: 0] += 1
      }
      try Self.expectConsistent(interface, "round \(round) (\(commands.map(\.[0])))")
    }
    print("DatapathConcurrencyTests: expected failures over 30 rounds: \(failures)")
    // Whatever the last round left, detach leaves nothing.
    if StateDirectory().record(interface: interface) == nil {
      #expect(try BuiltXDPBatch.run(attach + ["batch"]).status == 0)
    }
    let detached = try BuiltXDPBatch.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
    try Self.expectConsistent(interface, "after the last detach")
    #expect(StateDirectory().record(interface: interface) == nil)
    #expect(try XDPLink.links(onInterface: if_nametoindex(interface)).isEmpty)
    #expect(access(StateDirectory().path + "/\(interface).log", F_OK) != 0)
    #expect(access(StateDirectory().path + "/\(interface).lock", F_OK) != 0)
  }
}
