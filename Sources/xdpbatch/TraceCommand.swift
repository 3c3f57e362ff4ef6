import ArgumentParser
import BPF
import Datapath
import Foundation
import Glibc
import Kernel

/// `xdpbatch trace IFACE [--once] [--json]`: what the program on the
/// interface's software datapath prints with `bpf_printk`, as `bpftool
/// prog tracelog` shows the kernel's trace pipe.
struct TraceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trace",
    abstract: "Print what the program on an interface's software datapath prints with bpf_printk.",
    discussion: """
      Streams the lines the program prints on the software datapath (the oldest it still \
      keeps first), each with the receive queue and the form that printed it, until \
      interrupted or the datapath stops. The datapath keeps the newest 256 KiB of lines; \
      lines lost before they were read (since the datapath started) are counted ("N lines \
      dropped", on standard error). \
      The datapath's log has them too, at most 2,000 a second. On the kernel datapath the \
      kernel's trace pipe has them: bpftool prog tracelog.
      """)

  @Argument(help: "The network interface.")
  var interface: String

  @Flag(help: "Print the lines kept now and exit instead of following.")
  var once = false

  @Flag(
    help: """
      One JSON object a line: {"sequence", "queue", "form", "line"} for each line, \
      {"dropped": N} where lines were lost.
      """)
  var json = false

  /// How often a following reader asks for new lines.
  static let pollMilliseconds: UInt32 = 100

  func run() throws {
    try Privileges.require(for: "trace")
    let client = DatapathClient(interface: interface)
    var start: UInt64 = 0
    var answered = false
    repeat {
      let excerpt: TraceExcerpt
      do {
        excerpt = try client.trace(from: start)
      } catch let error {
        if case .controlSocket(_, _, let errno) = error,
          errno == .notFound || errno == .connectionRefused
        {
          if answered { return }  // The datapath stopped.
          throw ProgramCommandError(
            "\(interface) has no software datapath running (\(error)); on the kernel datapath "
              + "the kernel's trace pipe has what the program prints: bpftool prog tracelog")
        }
        throw error
      }
      print(excerpt)
      answered = true
      start = excerpt.next
      if excerpt.lines.isEmpty {
        if once { return }
        usleep(Self.pollMilliseconds * 1000)
      }
    } while true
  }

  /// Writes one answer at once (a follower's lines appear as they come,
  /// whatever reads the output).
  private func print(_ excerpt: TraceExcerpt) {
    let encoder = JSONCoding.encoder([.sortedKeys, .withoutEscapingSlashes])
    var text = ""
    if excerpt.dropped > 0 {
      if json {
        text += "{\"dropped\":\(excerpt.dropped)}\n"
      } else {
        writeToStandardError(
          "xdpbatch trace: \(excerpt.dropped) lines dropped (printed faster than read)")
      }
    }
    for record in excerpt.lines {
      if json {
        text += ((try? String(decoding: encoder.encode(record), as: UTF8.self)) ?? "{}") + "\n"
      } else {
        text += "queue \(record.queue) \(record.form.rawValue): \(record.line)\n"
      }
    }
    if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
  }
}
