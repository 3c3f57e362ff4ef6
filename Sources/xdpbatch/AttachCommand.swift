import ArgumentParser
import BPF
import Deployment
import Engine
import Foundation
import Kernel

/// `xdpbatch attach`: loads a program of an object file, instrumented to
/// count its verdicts, and attaches it to an interface through a pinned
/// BPF link (replacing xdpbatch's program there atomically).
struct AttachCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "attach",
    abstract: "Attach an XDP program of an object file to an interface (replaces ours atomically).")

  @Argument(help: "The network interface.")
  var interface: String

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "The program's name in the object (default: its only XDP program).")
  var program: String?

  @OptionGroup var attachMode: AttachModeOption

  @Option(
    help:
      "per-packet (the program as compiled, the default) or batch (its batch form; needs a batch-capable kernel)."
  )
  var form: Form = .perPacket

  @Flag(help: "Same as --form batch.")
  var batch = false

  @Option(help: "kernel (the kernel calls the program) or software (AF_XDP + the engine).")
  var datapath: DatapathKind = .kernel

  @Option(
    help: "Software datapath: the engine, jit (the default on x86-64) or interpreter (recorded).")
  var engine: EngineKind = .platformDefault

  @Flag(
    help: """
      Software datapath: act on each RX batch's verdicts grouped by action (drops, then \
      TX/REDIRECT, then PASS) instead of in frame order (recorded).
      """)
  var groupActions = false

  @Flag(help: "Replace an XDP program that another tool attached.")
  var force = false

  func validate() throws {
    if datapath == .kernel, groupActions || engine != .platformDefault {
      throw ValidationError("--engine and --group-actions need --datapath software")
    }
  }

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    try Privileges.require(for: "attach")
    let name = try program ?? BPFObject(contentsOf: object).onlyXDPProgramName(file: object)
    let path = URL(fileURLWithPath: object).standardizedFileURL.path
    let record = try ProgramDeployment.commandLine().attach(
      ProgramSource(objectPath: path, programName: name), to: interface,
      mode: attachMode.mode, datapath: datapath, form: batch ? .batch : form, force: force,
      engine: engine, groupActions: groupActions)
    let process = record.process.map { ", pid \($0.pid), log \($0.log)" } ?? ""
    print(
      "attached \(record.program) (\(record.form.rawValue), \(record.runningDatapath.rawValue) datapath, \(record.attachMode.rawValue), program id \(record.programID)\(process)) to \(interface)"
    )
  }
}

extension DatapathKind: ExpressibleByArgument {}
