import Datapath
import Deployment
import Foundation
import Glibc
import Inspection
import Kernel
import TestSupport
import Testing

/// `make demo` as an operator sees it: the built binary's `demo up`, then
/// the console in a 120x40 tmux pane, typed at a shell prompt. The
/// histogram's totals grow; on a kernel without batch XDP `b` asks, another
/// key cancels, `b` then `y` moves the demo's interface to the software
/// datapath in batch form (or, on a batch-capable kernel, `b` swaps in the
/// kernel) and the totals go on growing; `b` and `y` again return it to
/// the kernel per packet; `q` gives the prompt back, and after `demo down`
/// nothing of the datapath is left.
@Suite(
  .serialized,
  .enabled(if: TerminalSession.tmux != nil, "tmux is not installed"),
  .enabled(if: getuid() == 0, "needs root (namespaces, BPF) for the demo"),
  .enabled(if: TerminalSession.binaryExists, "build the xdpbatch executable first (swift build)"),
  .enabled(
    if: FileManager.default.fileExists(atPath: DemoObject.classifier),
    "build the samples first (make samples)"))
struct DemoConsoleTests {
  @Test func consoleOnTheDemoCountsMovesToSoftwareBatchAndBackAndQuitsCleanly() throws {
    let lock = DemoLock()
    defer { lock.release() }
    let binary = TerminalSession.binary
    defer { _ = Self.run(binary, ["demo", "down"]) }
    let up = Self.run(binary, ["demo", "up", "--object", DemoObject.classifier])
    try #require(up.status == 0, "demo up failed: \(up.output)")

    let session = TerminalSession(width: 120, height: 40, shellPrompt: ())
    defer { session.close() }
    #expect(session.waitFor { $0.contains(TerminalSession.prompt) })
    // --verbose: libbpf's and libxdp's debug lines as well go through
    // the console (its message log), none onto the screen.
    session.type(binary + " console --verbose")
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

    let interface = "xdpbatch0"
    let batchKernel = (try? BatchKernelSupport.probe())?.isBatchCapable == true
    session.send("b")
    if batchKernel {
      // Batch XDP in the kernel: b swaps there, without asking.
      #expect(session.waitFor { $0.contains("· batch ") }, "b did not swap:\n\(session.capture())")
    } else {
      try moveToSoftwareAndBack(session, interface: interface, binary: binary)
    }

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

    #expect(session.libraryLines == [], "libbpf or libxdp wrote onto the console's screen")

    // demo down: nothing of the datapath is left.
    let tap = try #require(PassDeviceName.for(interface))
    let down = Self.run(binary, ["demo", "down"])
    #expect(down.status == 0, "\(down.output)")
    let state = StateDirectory()
    #expect(state.record(interface: interface) == nil)
    #expect(if_nametoindex(tap) == 0, "the TAP device is left")
    #expect(access(state.path + "/\(interface).sock", F_OK) != 0)
    #expect(access(state.path + "/\(interface).log", F_OK) != 0)
    #expect(access(PinDirectory(interface: interface).path, F_OK) != 0)
    #expect(Self.datapathProcesses(interface).isEmpty, "a datapath process is left")
  }

  /// `b` asks; another key cancels (still the kernel); `b` `y` moves the
  /// interface to software batch and the totals go on rising; `b` `y`
  /// again returns it to the kernel per packet, the process gone.
  func moveToSoftwareAndBack(_ session: TerminalSession, interface: String, binary: String) throws {
    let question = "b: move \(interface) to the software datapath (AF_XDP) in batch form?"
    #expect(session.waitFor { $0.contains(question) }, "b did not ask:\n\(session.capture())")
    session.send("n")
    #expect(session.waitFor { $0.contains("b cancelled: nothing changed on \(interface)") })
    var stats = try Self.stats(binary, interface)
    #expect(stats["datapath"] as? String == "kernel")
    #expect(stats["form"] as? String == "per-packet")

    session.send("b")
    #expect(session.waitFor { $0.contains(question) })
    session.send("y")
    #expect(
      session.waitFor(seconds: 20) {
        $0.contains("\(interface) moved to the software datapath (AF_XDP)")
      }, "b y did not move the interface:\n\(session.capture())")
    stats = try Self.stats(binary, interface)
    #expect(stats["datapath"] as? String == "software")
    #expect(stats["form"] as? String == "batch")
    #expect(stats["zero_copy"] as? Bool == false, "veth offers no zero-copy")
    let process = try #require(StateDirectory().record(interface: interface)?.process)
    #expect(process.isAlive)
    // The program pane says where and how it runs.
    #expect(
      session.waitFor { $0.contains("batch · software AF_XDP copy") },
      "the program pane does not show the software datapath:\n\(session.capture())")

    // The histogram keeps moving through the software datapath's records.
    var moved: Double?
    #expect(
      session.waitFor(seconds: 10) { screen in
        moved = Self.totalPackets(in: screen)
        return moved != nil
      })
    let afterMove = try #require(moved)
    #expect(
      session.waitFor(seconds: 20) { (Self.totalPackets(in: $0) ?? 0) > afterMove },
      "the histogram's total stayed at \(afterMove) packets after the move")
    let dropped = Self.packets(stats, "drop") + Self.packets(stats, "pass")
    #expect(
      Self.eventually {
        (try? Self.stats(binary, interface)).map {
          Self.packets($0, "drop") + Self.packets($0, "pass")
        } ?? 0 > dropped
      },
      "stats' counters stopped after the move")
    // Both times per packet, once the batch form has run.
    #expect(
      session.waitFor(seconds: 10) { $0.contains("whole datapath") },
      "no datapath time per packet:\n\(session.capture())")
    // Like with like (issue 22): within 20 s of the move, per-packet →
    // batch from the same datapath and engine, measured alternately on
    // its traffic, and the kernel's own figure on a line of its own.
    #expect(
      session.waitFor(seconds: 20) {
        Self.comparedFigures(in: $0) && $0.contains("run statistics")
      },
      "no per-packet → batch figures of the software datapath:\n\(session.capture())")
    let comparison = try #require(
      try Self.stats(binary, interface)["comparison"] as? [String: Any], "stats has no comparison")
    for form in ["per-packet", "batch"] {
      let timing = comparison[form] as? [String: Any]
      #expect(
        (timing?["program_ns_per_packet"] as? NSNumber)?.doubleValue ?? 0 > 0,
        "stats' comparison has no \(form) figure: \(comparison)")
    }

    session.send("b")
    #expect(
      session.waitFor {
        $0.contains("b: move \(interface) back to the kernel datapath in per-packet form?")
      }, "b did not ask before going back:\n\(session.capture())")
    session.send("y")
    #expect(
      session.waitFor(seconds: 20) { $0.contains("\(interface) moved to the kernel") },
      "b y did not move the interface back:\n\(session.capture())")
    stats = try Self.stats(binary, interface)
    #expect(stats["datapath"] as? String == "kernel")
    #expect(stats["form"] as? String == "per-packet")
    #expect(Self.eventually { !process.isAlive }, "the datapath process is still running")
    // Back in the kernel, the software datapath's figures stay.
    #expect(
      session.waitFor(seconds: 5) {
        $0.contains("per-packet · kernel") && Self.comparedFigures(in: $0)
      },
      "the software figures disappeared after the move back:\n\(session.capture())")
  }

  /// Whether the program pane shows the software datapath's per-packet →
  /// batch figures, named by the JIT that measured them.
  static func comparedFigures(in screen: String) -> Bool {
    screen.range(
      of: #"ns/pkt +[0-9.]+ ns → [0-9.]+ ns .*software jit"#,
      options: .regularExpression) != nil
  }

  /// `xdpbatch stats IFACE --json`, parsed.
  static func stats(_ binary: String, _ interface: String) throws -> [String: Any] {
    let result = run(binary, ["stats", interface, "--json"])
    try #require(result.status == 0, "\(result.output)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
  }

  /// `actions.NAME.packets` of a stats report.
  static func packets(_ stats: [String: Any], _ action: String) -> UInt64 {
    let actions = stats["actions"] as? [String: Any]
    return ((actions?[action] as? [String: Any])?["packets"] as? NSNumber)?.uint64Value ?? 0
  }

  /// Whether `condition` holds within `seconds`.
  static func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(100_000)
    }
    return condition()
  }

  /// Live processes running `xdpbatch datapath run IFACE`.
  static func datapathProcesses(_ interface: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { Int32($0) != nil }.filter { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
        return false
      }
      let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      return words.count >= 4 && words[1] == "datapath" && words[2] == "run"
        && words[3] == interface
    }
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
