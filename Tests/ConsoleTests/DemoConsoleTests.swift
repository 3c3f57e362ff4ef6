import Foundation
import Glibc
import TestSupport
import Testing

/// `make demo` as an operator sees it: the built binary's `demo up`, then
/// the console in a 120x40 tmux pane, typed at a shell prompt. The
/// histogram's totals grow, `b` answers with the batch refusal (or the
/// mode changes on a batch-capable kernel), `q` gives the prompt back.
@Suite(
  .serialized,
  .enabled(if: TerminalSession.tmux != nil, "tmux is not installed"),
  .enabled(if: getuid() == 0, "needs root (namespaces, BPF) for the demo"),
  .enabled(if: TerminalSession.binaryExists, "build the xdpbatch executable first (swift build)"),
  .enabled(
    if: FileManager.default.fileExists(atPath: DemoObject.classifier),
    "build the samples first (make samples)"))
struct DemoConsoleTests {
  @Test func consoleOnTheDemoCountsRefusesBatchAndQuitsCleanly() throws {
    let lock = DemoLock()
    defer { lock.release() }
    let binary = TerminalSession.binary
    defer { _ = Self.run(binary, ["demo", "down"]) }
    let up = Self.run(binary, ["demo", "up", "--object", DemoObject.classifier])
    try #require(up.status == 0, "demo up failed: \(up.output)")

    let session = TerminalSession(width: 120, height: 40, shellPrompt: ())
    defer { session.close() }
    #expect(session.waitFor { $0.contains(TerminalSession.prompt) })
    session.type(binary)
    // The demo's interface is selected, and its program shown.
    #expect(session.waitFor { $0.contains("xdpbatch0") && $0.contains("xdp_classify_prog") })

    var first: Double?
    #expect(
      session.waitFor(seconds: 20) { screen in
        first = Self.totalPackets(in: screen)
        return (first ?? 0) > 0
      })
    let start = try #require(first, "no total on the actions pane")
    #expect(
      session.waitFor(seconds: 20) { (Self.totalPackets(in: $0) ?? 0) > start },
      "the histogram's total stayed at \(start) packets")

    session.send("b")
    #expect(
      session.waitFor {
        // The refusal's cause: the kernel has no batch XDP, the software
        // datapath (from the command line) does it.
        $0.contains("--datapath software --form batch") || $0.contains("xdpbatch swap IFACE")
          || $0.contains("· batch ")
      },
      "b neither refused nor swapped:\n\(session.capture())")

    session.send("q")
    #expect(
      session.waitFor { screen in
        let lines = screen.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
          .filter { !$0.isEmpty }
        // The shell's screen is back: two prompts (before and after the
        // console), nothing of the console's panes left over.
        return lines.last == TerminalSession.prompt
          && lines.filter { $0.hasPrefix(TerminalSession.prompt) }.count == 2
          && !screen.contains("╭") && !screen.contains("actions")
      }, "the prompt did not come back clean:\n\(session.capture())")
  }

  /// The actions pane's "total N pkts", in packets (`1.29 M` is 1.29e6).
  static func totalPackets(in screen: String) -> Double? {
    guard
      let range = screen.range(of: #"total [0-9.]+ ?[kMGT]? ?pkts"#, options: .regularExpression)
    else { return nil }
    let words = screen[range].split(separator: " ").dropFirst().dropLast()
    guard let number = words.first.flatMap({ Double($0) }) else { return nil }
    let scale: [Substring: Double] = ["k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
    return number * (words.count > 1 ? scale[words[words.index(after: words.startIndex)]] ?? 1 : 1)
  }

  /// Runs `binary` with `arguments` to the end; standard output and error
  /// together.
  static func run(_ binary: String, _ arguments: [String]) -> (status: Int32, output: String) {
    let quoted = ([binary] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
    guard let pipe = popen(quoted + " 2>&1 </dev/null", "r") else { return (-1, "") }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = fread(&buffer, 1, buffer.count, pipe)
      if count <= 0 { break }
      output += buffer[0..<count]
    }
    let status = pclose(pipe)
    return ((status >> 8) & 0xff, String(decoding: output, as: UTF8.self))
  }
}

/// The sample the demo attaches (`make samples` builds it).
enum DemoObject {
  static let classifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("build/samples/xdp_classify.o").path
}
