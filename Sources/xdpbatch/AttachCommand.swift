import ArgumentParser
import Control
import Datapath
import Foundation

extension XDPMode: ExpressibleByArgument {}
extension DatapathKind: ExpressibleByArgument {}

/// `xdpbatch attach`: loads a program of an object file, instrumented to
/// count its verdicts, and attaches it to an interface through a pinned
/// BPF link (replacing xdpbatch's program there atomically).
struct AttachCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attach",
    abstract: "Attach an XDP program of an object file to an interface (replaces ours atomically).")

  @Argument(help: "The network interface.")
  var interface: String

  @Argument(help: "A BPF object file (clang -target bpf -O2 -g).")
  var object: String

  @Option(help: "The program's name in the object.")
  var program: String

  @Option(help: "native (in the driver) or generic (after the sk_buff is built).")
  var mode: XDPMode = .native

  @Flag(help: "Attach the batch form (same as --form batch).")
  var batch = false

  @Option(help: "kernel (the kernel calls the program) or software (AF_XDP + the engine).")
  var datapath: DatapathKind = .kernel

  @Option(help: "per-packet or batch (batch in the kernel needs a batch-capable kernel).")
  var form: ProgramForm?

  @Flag(help: "Replace an XDP program that another tool attached.")
  var force = false

  func validate() throws {
    guard mode != .offload else { throw ValidationError("--mode must be native or generic") }
    if batch, form == .perPacket { throw ValidationError("--batch and --form per-packet disagree") }
  }

  func run() throws {
    let path = URL(fileURLWithPath: object).standardizedFileURL.path
    let record = try DatapathDeployment().attach(
      ProgramSource(objectPath: path, programName: program), to: interface, mode: mode,
      datapath: datapath, form: form ?? (batch ? .batch : .perPacket), force: force)
    let process = record.process.map { ", pid \($0.pid), log \($0.log)" } ?? ""
    print(
      "attached \(record.program) (\(record.form.rawValue), \(record.datapath ?? "kernel") datapath, \(record.attachMode.rawValue), program id \(record.programID)\(process)) to \(interface)"
    )
  }
}
