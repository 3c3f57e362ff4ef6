import ArgumentParser
import BPF
import Datapath
import Deployment
import Engine
import Foundation
import Kernel

/// `xdpbatch datapath`: the software datapath of one interface (AF_XDP
/// sockets feeding the engine), run in the foreground, and its control
/// socket's requests.
struct DatapathCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "datapath",
    abstract: "Run the software datapath (AF_XDP + engine) of an interface, or talk to it.",
    subcommands: [
      DatapathRunCommand.self, DatapathStatusCommand.self, DatapathFormCommand.self,
      DatapathStopCommand.self,
    ])
}

/// `xdpbatch datapath run IFACE OBJ --program P`: the datapath in the foreground
/// (for debugging and for systemd) until SIGINT, SIGTERM or `datapath stop`.
struct DatapathRunCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run the software datapath of an interface in the foreground.",
    discussion: """
      Takes the interface's frames through one AF_XDP socket per receive queue and runs the
      program on them in the engine, per packet or per batch; acts on each verdict (DROP
      recycles, TX sends back, REDIRECT sends out of the target interface, PASS goes to the
      TAP device IFACE-tap). When it stops or dies, the kernel runs the program per packet.
      """)

  @Argument(help: "The network interface.")
  var interface: String

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "The program's name in the object.")
  var program: String

  @Option(help: "per-packet or batch.")
  var form: Form = .perPacket

  @Option(help: "Batch form: where the loop keeps its values, shift or reserve.")
  var strategy = BatchStrategy.reserve.rawValue

  @Option(help: "Batch form: how the loop stops, count, immediate or end-pointer.")
  var bound = BatchBound.endPointer.rawValue

  @Option(help: "How the kernel half attaches: native or generic.")
  var mode: AttachMode = .native

  @Option(
    help: """
      The engine that runs the program: jit (x86-64 machine code; the default on x86-64) or \
      interpreter. A program the JIT cannot compile runs in the interpreter (status says why).
      """)
  var engine: EngineKind = .platformDefault

  @Flag(
    help: """
      Act on each RX batch's verdicts grouped by action (every drop recycled, then TX and \
      REDIRECT, then PASS) instead of in frame order.
      """)
  var groupActions = false

  func validate() throws {
    guard BatchStrategy(rawValue: strategy) != nil else {
      throw ValidationError("--strategy must be shift or reserve, not '\(strategy)'")
    }
    guard BatchBound(rawValue: bound) != nil else {
      throw ValidationError("--bound must be count, immediate or end-pointer, not '\(bound)'")
    }
    guard mode != .offload else { throw ValidationError("--mode must be native or generic") }
  }

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    let path = URL(fileURLWithPath: object).standardizedFileURL.path
    let (datapath, signals) = try SoftwareDatapath.startInForeground(
      DatapathConfiguration(
        interface: interface, source: ProgramSource(objectPath: path, programName: program),
        form: form, strategy: BatchStrategy(rawValue: strategy) ?? .reserve,
        bound: BatchBound(rawValue: bound) ?? .endPointer, attachMode: mode, engine: engine,
        groupActions: groupActions))
    let status = datapath.status()
    FileHandle.standardOutput.write(
      Data(
        "datapath on \(interface): \(program) in \(status.form.rawValue) form, \((status.runningEngine ?? engine).rawValue) engine\(groupActions ? ", actions grouped" : ""), \(status.queues) queue(s), \(status.zeroCopy ? "zero-copy" : "copy mode"), PASS to \(status.passDevice), pid \(status.pid)\n"
          .utf8))
    datapath.runUntilStopped(signals)
    let final = datapath.status()
    print(
      "datapath on \(interface) stopped: \(final.counters.actions.totalPackets) frames counted; the kernel runs \(program) per packet now"
    )
  }
}

/// `xdpbatch datapath status IFACE [--json]`.
struct DatapathStatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Print the running datapath's status (a table; --json for JSON).")

  @Argument(help: "The network interface.")
  var interface: String

  @Flag(help: "Print the status as one JSON document (what the control socket answers).")
  var json = false

  func run() throws {
    let client = DatapathClient(interface: interface)
    if json {
      print(try client.request("status"))
      return
    }
    print(DatapathStatusTable(try client.status()).text)
  }
}

/// `xdpbatch datapath form IFACE [per-packet|batch]`.
struct DatapathFormCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "form",
    abstract: "Switch the running datapath's form (toggle without an argument).",
    discussion: """
      Changes the form as `swap` does, holding the interface's lock, and records it, so that \
      `stats`, the console and the exporter say what runs.
      """)

  @Argument(help: "The network interface.")
  var interface: String

  @Argument(help: "per-packet or batch (default: the other one).")
  var form: Form?

  func run() throws {
    try Privileges.require(for: "datapath form")
    let deployment = ProgramDeployment()
    let record =
      try form.map { try deployment.setForm($0, interface: interface) }
      ?? deployment.swap(interface: interface)
    print(
      "\(interface) now runs \(record.program) (\(record.runningForm.rawValue), \(record.runningPlace))"
    )
  }
}

/// `xdpbatch datapath stop IFACE`.
struct DatapathStopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stop", abstract: "Stop the running datapath (the kernel fallback takes over).",
    discussion: """
      The kernel runs the program per packet (the fallback) until `xdpbatch swap IFACE` starts \
      the datapath again or `xdpbatch detach IFACE` removes everything. Returns when the \
      process and its TAP device are gone.
      """)

  @Argument(help: "The network interface.")
  var interface: String

  func run() throws {
    try Privileges.require(for: "datapath stop")
    let stopped = try ProgramDeployment().stopDatapath(interface: interface)
    print(
      "stopped the software datapath of \(interface) (pid \(stopped.pid)); the kernel runs \(stopped.program) per packet now (`xdpbatch swap \(interface)` starts it again)"
    )
  }
}
