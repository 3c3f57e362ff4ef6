import ArgumentParser
import BPF
import Control
import Datapath
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// `xdpbatch demo up|down|status`: a namespace, a veth pair, the
/// classifier sample and a traffic generator that makes all five verdicts.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Set up, inspect or remove the demo (namespace, veth pair, classifier, generator).",
    subcommands: [Up.self, Down.self, Status.self, Generate.self])

  /// Prints the demo's state as text or JSON.
  static func show(_ status: DemoStatus, json: Bool) throws {
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      let data = try encoder.encode(status)
      print(String(decoding: data, as: UTF8.self))
      return
    }
    guard status.isUp, let interface = status.interface else {
      print("demo: down")
      return
    }
    let program =
      status.program.map { "\($0) (\(status.form?.rawValue ?? "?"))" }
      ?? (Privileges.sufficient
        ? "none" : "unknown (reading it needs root: CAP_BPF and CAP_NET_ADMIN)")
    let generator =
      status.generator.running ? "running, \(status.generator.sent) frames sent" : "stopped"
    print(
      """
      demo: up (namespace \(status.namespace ?? "?"), \(interface) <-> \(status.peer ?? "?"))
      program: \(program) on \(interface)
      generator: \(generator)
      """)
  }

  struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Make the demo (idempotent): namespace, veth pair, classifier, generator.")

    @Option(help: "The classifier object (default: build/samples/xdp_classify.o).")
    var object: String?

    @Option(help: "The program in --object (default: its only XDP program).")
    var program: String?

    @OptionGroup var attachMode: AttachModeOption

    @Option(help: "Frames per second the generator sends.")
    var rate: Double = 20_000

    @Flag(help: "Print the demo's state as JSON.")
    var json = false

    func validate() throws {
      guard rate > 0 else { throw ValidationError("--rate must be above 0") }
    }

    func run() throws {
      try Privileges.require(for: "demo up")
      let path = try object ?? Self.defaultObject()
      var demo = Demo()
      if object != nil || program != nil {
        demo.programName = try program ?? BPFObject(contentsOf: path).onlyXDPProgramName(file: path)
      }
      try Self.stopSoftwareDatapath(of: demo, unlessRunning: path, mode: attachMode.mode)
      let status = try demo.up(
        object: path, mode: attachMode.mode,
        generatorCommand: [Self.executablePath(), "demo", "generate", "--rate", String(rate)])
      try DemoCommand.show(status, json: json)
    }

    /// A software datapath on the demo's interface that runs another
    /// program than `object`'s is stopped first (its process, sockets, TAP
    /// device and pins), so that the demo's change of program does not
    /// leave it running beside the kernel; the same program keeps running
    /// where it is.
    static func stopSoftwareDatapath(of demo: Demo, unlessRunning object: String, mode: AttachMode)
      throws
    {
      guard let record = demo.state.record(interface: demo.veth.name), record.isSoftware else {
        return
      }
      let objectPath = URL(fileURLWithPath: object).standardizedFileURL.path
      guard
        record.program != demo.programName || record.object != objectPath
          || record.attachMode != mode
      else { return }
      try DatapathDeployment(deployment: ProgramDeployment(state: demo.state)).detach(
        interface: demo.veth.name)
    }

    /// `build/samples/xdp_classify.o` in the working directory, or in the
    /// package the executable was built in (`.build/<config>/xdpbatch`).
    static func defaultObject() throws -> String {
      let relative = "build/samples/xdp_classify.o"
      let executableDirectory = URL(fileURLWithPath: executablePath()).deletingLastPathComponent()
      let candidates = [
        relative,
        executableDirectory.appendingPathComponent("../../../" + relative).standardizedFileURL.path,
        executableDirectory.appendingPathComponent("../../" + relative).standardizedFileURL.path,
      ]
      guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) })
      else {
        throw DemoCommandError.noObject(candidates)
      }
      return found
    }

    static func executablePath() -> String {
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]
    }
  }

  struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Remove everything the demo made (quiet when nothing is up).")

    func run() throws {
      try Privileges.require(for: "demo down")
      let demo = Demo()
      // The program through the datapaths first: a software datapath the
      // console's `b` started (its process, TAP device, sockets), or the pins
      // and log one left after moving back to the kernel (Control knows
      // nothing of them).
      var stopped: [String] = []
      if demo.state.record(interface: demo.veth.name) != nil,
        (try? DatapathDeployment(deployment: ProgramDeployment(state: demo.state)).detach(
          interface: demo.veth.name)) != nil
      {
        stopped.append("program on \(demo.veth.name), its datapath and pins")
      }
      let removed = stopped + demo.down()
      print(
        removed.isEmpty
          ? "demo: nothing to remove" : "demo: removed " + removed.joined(separator: ", "))
    }
  }

  struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what of the demo exists.")

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
      try DemoCommand.show(Demo().status(), json: json)
    }
  }

  /// The generator process `demo up` starts: sends the traffic mix from
  /// the peer until SIGTERM, writing its pid and sent count to files.
  struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run the demo's traffic generator (started by `demo up`).",
      shouldDisplay: false)

    @Option(help: "Frames per second.")
    var rate: Double = 20_000

    func run() throws {
      setsid()
      let demo = Demo()
      var signals = sigset_t()
      sigemptyset(&signals)
      sigaddset(&signals, SIGTERM)
      sigaddset(&signals, SIGINT)
      sigaddset(&signals, SIGHUP)
      pthread_sigmask(SIG_BLOCK, &signals, nil)
      let generator = TrafficGenerator.start(
        .init(
          frames: TrafficMix.classifier().frames, interface: demo.veth.peer,
          namespace: demo.namespace, framesPerRun: UInt32(min(max(rate / 50, 64), 16384)),
          framesPerSecond: rate))
      try? String(getpid()).write(toFile: demo.generatorPIDPath, atomically: true, encoding: .utf8)
      defer { unlink(demo.generatorPIDPath) }
      var timeout = timespec(tv_sec: 0, tv_nsec: 250_000_000)
      while generator.isRunning {
        try? String(generator.framesSent).write(
          toFile: demo.generatorCountPath, atomically: true, encoding: .utf8)
        if sigtimedwait(&signals, nil, &timeout) > 0 { break }
      }
      let failure = generator.stop()
      try? String(generator.framesSent).write(
        toFile: demo.generatorCountPath, atomically: true, encoding: .utf8)
      if let failure { throw failure }
    }
  }
}

/// Why a demo command could not start.
enum DemoCommandError: Error, CustomStringConvertible {
  case noObject([String])

  var description: String {
    switch self {
    case .noObject(let paths):
      "the classifier sample is not built (looked for \(paths.joined(separator: ", "))); run `make samples` or pass --object"
    }
  }
}
