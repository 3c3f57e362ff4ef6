import ArgumentParser
import BPF
import Foundation
import Frames
import Inspection
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Set by SIGINT/SIGTERM during a capture: the loop ends and the
/// original program is swapped back.
private let captureInterrupted = Atomic<Bool>(false)

/// `xdpbatch capture IFACE -w FILE`: frames the XDP program on an
/// interface sees, with its verdict on each, written as pcapng or pcap.
struct CaptureCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "capture",
    abstract:
      "Record the frames an interface's XDP program sees, with its verdicts, to a pcap file.",
    discussion: """
      The program is swapped atomically for a variant that also copies each frame's first
      bytes and its verdict into a ring buffer, and swapped back when the capture ends
      (after --count frames, --duration, or Ctrl-C). The variant is built from the object
      xdpbatch attached, or from --object for a program attached by another tool; it uses
      the running program's maps.
      """)

  @Argument(help: "The network interface.")
  var interface: String

  @Option(name: .shortAndLong, help: "The file to write.")
  var write: String

  @Option(help: "Stop after N frames.")
  var count: Int?

  @Option(help: "Stop after SECONDS seconds.")
  var duration: Double?

  @Option(help: "Only frames with this verdict: aborted, drop, pass, tx or redirect.")
  var action: String?

  @Option(help: "Bytes of each frame to keep (1...4096).")
  var snaplen = 128

  @Option(help: "File format: pcapng (verdict in each packet's comment) or pcap.")
  var format = "pcapng"

  @Option(help: "For a program attached by another tool: its object file.")
  var object: String?

  @Option(help: "With --object: the program's name in it (default: its first XDP program).")
  var program: String?

  func validate() throws {
    if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    if let duration, !(duration > 0) { throw ValidationError("--duration must be above 0") }
    if !(1...4096).contains(snaplen) { throw ValidationError("--snaplen must be in 1...4096") }
    if CaptureFileFormat.Layout(rawValue: format) == nil {
      throw ValidationError("--format must be pcapng or pcap")
    }
    if let action, Self.action(named: action) == nil {
      throw ValidationError("--action must be one of aborted, drop, pass, tx, redirect")
    }
    if program != nil && object == nil { throw ValidationError("--program needs --object") }
  }

  static func action(named name: String) -> XDPAction? {
    XDPAction.allCases.first { $0.name == name.lowercased() }
  }

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    let writer = CaptureFileFormat(
      layout: CaptureFileFormat.Layout(rawValue: format) ?? .pcapng, snapLength: UInt32(snaplen))

    // SIGHUP too: an SSH session that drops ends the capture as Ctrl-C
    // does, with the original program swapped back.
    captureInterrupted.store(false, ordering: .relaxed)
    let handler: @convention(c) (Int32) -> Void = { _ in
      captureInterrupted.store(true, ordering: .relaxed)
    }
    let previous = [SIGINT, SIGTERM, SIGHUP].map { ($0, signal($0, handler)) }
    defer { for (number, action) in previous { signal(number, action) } }

    // A capture killed before it swapped back (kill -9) left its variant
    // in place of the original: put the original back first, and say so.
    if let repaired = FrameCapture.restoreLeftover(interface: interface) {
      writeToStandardError("xdpbatch: \(repaired)")
    }
    let capture = try FrameCapture.start(
      FrameCapture.Request(
        interface: interface, action: action.flatMap(Self.action(named:)), snapLength: snaplen),
      object: object, program: program)
    // The file is opened (and an existing one truncated) only now that
    // the capture runs: a capture that cannot start leaves it as it was
    // (tcpdump opens its output after the interface, too).
    let file: FileHandle
    do {
      file = try OutputFile.open(write)
    } catch {
      try capture.stop()
      throw error
    }
    defer { try? file.close() }
    file.write(Data(writer.header()))
    writeToStandardError(
      "capturing on \(interface) (program id \(capture.originalID) swapped for its capture variant); Ctrl-C stops"
    )
    let recording = capture.record(
      as: writer, limit: count, duration: duration,
      stopped: { captureInterrupted.load(ordering: .relaxed) },
      write: { file.write(Data($0)) })
    try capture.stop()
    let counts = recording.counts
    let summary = XDPAction.allCases.filter { counts[$0].packets > 0 }.map {
      "\($0.name) \(counts[$0].packets)"
    }
    writeToStandardError(
      "\(recording.frames) frames written to \(write)"
        + (summary.isEmpty ? "" : " (" + summary.joined(separator: ", ") + ")")
        + "; program id \(capture.originalID) is back on \(interface)")
  }
}
