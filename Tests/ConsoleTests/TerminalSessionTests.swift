import Foundation
import TestSupport
import Testing

/// The real binary in a real (tmux) terminal: it draws, shows the help on
/// `?`, follows a resize, and gives the terminal back on `q` and SIGTERM.
@Suite(
  .serialized,
  .enabled(if: TerminalSession.tmux != nil, "tmux is not installed"),
  .enabled(if: TerminalSession.binaryExists, "build the xdpbatch executable first (swift build)"))
struct TerminalSessionTests {
  @Test func drawsHelpsResizesAndQuitsCleanly() throws {
    let session = try TerminalSession(width: 100, height: 30)
    defer { session.close() }
    #expect(session.waitFor { $0.contains("xdpbatch") && $0.contains("interfaces") })
    session.send("?")
    #expect(session.waitFor { $0.contains("swap per-packet ⇄ batch") })
    session.send("x")
    #expect(session.waitFor { !$0.contains("swap per-packet ⇄ batch") })
    session.resize(width: 70, height: 20)
    #expect(session.waitFor { $0.contains("terminal too small: 70x20") })
    session.resize(width: 100, height: 30)
    #expect(session.waitFor { $0.contains("interfaces") })
    session.send("q")
    #expect(session.waitFor { $0.contains("EXIT=0") })
    #expect(session.waitFor { !$0.contains("interfaces") })
  }

  @Test func sigtermRestoresTheTerminal() throws {
    let session = try TerminalSession(width: 100, height: 30)
    defer { session.close() }
    #expect(session.waitFor { $0.contains("interfaces") })
    let console = try #require(session.consoleProcess())
    kill(console, SIGTERM)
    #expect(session.waitFor { $0.contains("EXIT=143") })
    #expect(
      session.waitFor { $0.contains("STTY") && $0.contains(" icanon") && $0.contains(" echo") })
  }
}

extension TerminalSessionTests {
  /// An unknown `--interface` is refused before the screen is taken over,
  /// with the interfaces there are; nothing else gets selected instead.
  @Test func unknownInterfaceIsRefusedAtStart() throws {
    let session = try TerminalSession(
      width: 100, height: 30, arguments: ["console", "--interface", "nosuch0"])
    defer { session.close() }
    #expect(session.waitFor { $0.contains("EXIT=1") })
    let screen = session.capture()
    #expect(screen.contains("xdpbatch: error: no interface named 'nosuch0'; interfaces: lo"))
    #expect(!screen.contains("╭─ interfaces"))
  }

  /// With its output on a pipe the console refuses at once (exit 1) and
  /// says what scripts should use, instead of writing escape codes forever.
  @Test func refusesWithoutATerminal() throws {
    let result = try BuiltXDPBatch.run(["console"])
    #expect(result.status == 1)
    #expect(result.output.isEmpty)
    #expect(result.errors.contains("the console needs a terminal"))
    #expect(result.errors.contains("stats IFACE --interval"))
  }

  @Test func hangUpEndsTheConsoleInsteadOfSpinning() throws {
    let session = try TerminalSession(width: 100, height: 30)
    #expect(session.waitFor { $0.contains("interfaces") })
    let console = try #require(session.consoleProcess())
    session.close()
    var gone = false
    for _ in 0..<150 where !gone {
      gone = kill(console, 0) != 0
      if !gone { usleep(100_000) }
    }
    if !gone { kill(console, SIGKILL) }
    #expect(gone, "xdpbatch \(console) still runs after its terminal went away")
  }
}

/// A detached tmux session running `xdpbatch`, then printing its exit
/// status and the terminal modes.
final class TerminalSession {
  static let tmux: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  static var binary: String { BuiltXDPBatch.url?.path ?? "xdpbatch-not-built" }
  static var binaryExists: Bool { FileManager.default.isExecutableFile(atPath: binary) }

  let name = "xdpbatch-test-\(UUID().uuidString.prefix(8))"
  let command = TerminalSession.binary

  init(width: Int, height: Int, arguments: [String] = []) throws {
    let invocation = ([command] + arguments).joined(separator: " ")
    let script =
      "\(invocation); echo EXIT=$?; printf 'STTY '; stty -a | tr '\\n' ' '; echo; sleep 30"
    start(width: width, height: height, script: script)
  }

  /// The prompt of ``init(width:height:shellPrompt:)``'s shell.
  static let prompt = "xdpbatch-test$"

  /// An interactive shell (no rc files, prompt ``prompt``) instead of the
  /// console: ``type(_:)`` runs commands in it as an operator would.
  init(width: Int, height: Int, shellPrompt: Void) {
    start(
      width: width, height: height,
      script: "env PS1='\(Self.prompt) ' TERM=screen bash --norc --noprofile -i")
  }

  private func start(width: Int, height: Int, script: String) {
    // The server that new-session starts keeps its standard output open:
    // point it away from the pipe, or reading the pipe never ends.
    tmux(
      ["new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", script],
      readOutput: false)
  }

  /// Types `line` and Enter.
  func type(_ line: String) {
    send(line)
    tmux(["send-keys", "-t", name, "Enter"])
  }

  func send(_ keys: String) { tmux(["send-keys", "-t", name, "-l", keys]) }

  func resize(width: Int, height: Int) {
    tmux(["resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
  }

  /// The screen now. Every screen captured is checked for a line libbpf
  /// or libxdp printed: those go to the message log, never the terminal.
  func capture() -> String {
    let screen = tmux(["capture-pane", "-p", "-J", "-t", name])
    if let line = screen.split(separator: "\n").first(where: {
      $0.contains("libbpf:") || $0.contains("libxdp:")
    }) {
      libraryLines.append(String(line))
    }
    return screen
  }

  /// Lines of libbpf or libxdp seen on the screen by ``capture()``.
  private(set) var libraryLines: [String] = []

  /// Polls the screen until `condition` holds; false after `seconds`.
  func waitFor(seconds: Double = 15, _ condition: (String) -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition(capture()) { return true }
      usleep(100_000)
    }
    return condition(capture())
  }

  func close() { tmux(["kill-session", "-t", name]) }

  /// The console's process id: the child of the pane's shell.
  func consoleProcess() -> pid_t? {
    let shell = tmux(["display-message", "-p", "-t", name, "#{pane_pid}"])
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let children =
      (try? String(
        contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
    return children.split(separator: " ").first.flatMap { pid_t($0) }
  }

  /// Runs tmux through the shell (`popen`), not Foundation's `Process`,
  /// whose wait for the client never ended once the client had started
  /// the tmux server.
  @discardableResult
  func tmux(_ arguments: [String], readOutput: Bool = true) -> String {
    let quoted = ([Self.tmux ?? "tmux"] + arguments).map { argument in
      "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    let redirections = readOutput ? " 2>/dev/null </dev/null" : " >/dev/null 2>&1 </dev/null"
    guard let pipe = popen(quoted.joined(separator: " ") + redirections, "r")
    else { return "" }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = fread(&buffer, 1, buffer.count, pipe)
      if count <= 0 { break }
      output += buffer[0..<count]
    }
    pclose(pipe)
    return String(decoding: output, as: UTF8.self)
  }
}

extension TerminalSessionTests {
  /// Esc closes dialogs and never quits; `l` opens the message log with
  /// the messages shown so far; `q` quits (issue 13, items 7 and 14).
  @Test func escapeNeverQuitsAndTheMessageLogOpens() throws {
    let session = try TerminalSession(width: 100, height: 30)
    defer { session.close() }
    #expect(session.waitFor { $0.contains("interfaces") })
    session.send("\u{1b}")
    // Apart from the next key, so that curses reads a lone Escape.
    usleep(300_000)
    session.send("l")
    #expect(session.waitFor { $0.contains("messages (") })
    session.send("\u{1b}")
    #expect(session.waitFor { !$0.contains("messages (") && $0.contains("interfaces") })
    #expect(!session.capture().contains("EXIT="))
    session.send("q")
    #expect(session.waitFor { $0.contains("EXIT=0") })
  }
}
