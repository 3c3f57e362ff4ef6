import ArgumentParser
import BPF
import Foundation
import Kernel
import Lab

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
      print(JSONCoding.line(status))
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
      switch status.generator.running {
      case true?: "running, \(status.generator.sent ?? 0) frames sent"
      case false?: "stopped"
      case nil: "unknown (reading it needs root: CAP_BPF and CAP_NET_ADMIN)"
      }
    print(
      """
      demo: up (namespace \(status.namespace ?? "?"), \(interface) <-> \(status.peer ?? "?"))
      program: \(program) on \(interface)
      generator: \(generator)
      """)
  }

  struct Up: ParsableCommand, LibraryMessageCommand {
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

    @OptionGroup var messages: LibraryMessageOptions

    func run() throws {
      try Privileges.require(for: "demo up")
      let path = try object ?? Self.defaultObject()
      var demo = Demo()
      if object != nil || program != nil {
        demo.programName = try program ?? BPFObject(contentsOf: path).onlyXDPProgramName(file: path)
      }
      let status = try demo.up(
        object: path, mode: attachMode.mode,
        generatorCommand: [
          Processes.currentExecutable, "demo", "generate", "--rate", String(rate),
        ])
      try DemoCommand.show(status, json: json)
    }

    /// The bundled classifier (``SampleDirectory``).
    static func defaultObject() throws -> String {
      guard let samples = SampleDirectory.find() else {
        throw DemoCommandError.noObject(
          SampleDirectory.candidates().map { $0 + "/" + Demo.classifierObject })
      }
      return samples.object(Demo.classifierObject)
    }
  }

  struct Down: ParsableCommand, LibraryMessageCommand {
    static let configuration = CommandConfiguration(
      abstract: "Remove everything the demo made (quiet when nothing is up).")

    @OptionGroup var messages: LibraryMessageOptions

    func run() throws {
      try Privileges.require(for: "demo down")
      let removed = Demo().down()
      print(
        removed.isEmpty
          ? "demo: nothing to remove" : "demo: removed " + removed.joined(separator: ", "))
    }
  }

  struct Status: ParsableCommand, LibraryMessageCommand {
    static let configuration = CommandConfiguration(abstract: "Show what of the demo exists.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var messages: LibraryMessageOptions

    func run() throws {
      try DemoCommand.show(Demo().status(), json: json)
    }
  }

  /// The generator process `demo up` starts: sends the traffic mix from
  /// the peer until SIGTERM, writing its pid and sent count to files.
  struct Generate: ParsableCommand, LibraryMessageCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run the demo's traffic generator (started by `demo up`).",
      shouldDisplay: false)

    @Option(help: "Frames per second.")
    var rate: Double = 20_000

    @OptionGroup var messages: LibraryMessageOptions

    func run() throws {
      try Demo().runGenerator(rate: rate)
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
