import Glibc

/// Runs the console: draws the snapshot it is handed at least ten times a
/// second, turns keys into commands and hands them to the layer above.
/// The caller wires the kernel side in through the two closures; the
/// runner itself never touches the kernel.
///
/// The terminal is restored on every way out: `q`, Esc, Ctrl-C, SIGTERM,
/// SIGHUP, and an error thrown by either closure.
public struct ConsoleRunner {
  /// Produces the snapshot to draw; called once per frame.
  public typealias SnapshotProvider = () throws -> ConsoleSnapshot
  /// Carries out a command; a thrown error is shown on the status line.
  /// `.quit` is not passed on: ``run()`` returns instead.
  public typealias CommandExecutor = (ConsoleCommand) throws -> Void

  private var catalog: ThemeCatalog
  private let theme: Theme
  private let themeProblem: ThemeError?
  private let snapshot: SnapshotProvider
  private let execute: CommandExecutor
  private let libraryMessages: () -> [StatusMessage]

  /// A runner starting with theme `requested` (a name or a `.theme` path;
  /// `nil` for the default, or mono under `NO_COLOR`). `libraryMessages`
  /// hands over, once a frame, what libbpf and libxdp printed since the
  /// last frame: it goes to the message log, never onto the screen.
  public init(
    theme requested: String?, environment: [String: String],
    snapshot: @escaping SnapshotProvider, execute: @escaping CommandExecutor,
    libraryMessages: @escaping () -> [StatusMessage] = { [] }
  ) {
    self.libraryMessages = libraryMessages
    var catalog = ThemeCatalog(
      directories: ThemeCatalog.standardDirectories(environment: environment))
    (theme, themeProblem) = catalog.initialTheme(requested: requested, environment: environment)
    self.catalog = catalog
    self.snapshot = snapshot
    self.execute = execute
  }

  /// Takes over the terminal until the operator quits or a termination
  /// signal arrives. Returns the signal number if one ended it (SIGHUP
  /// also when the terminal went away).
  @discardableResult
  public func run() throws -> Int32? {
    let terminal = try CursesTerminal()
    let previousHandlers = TerminationSignals.install()
    defer {
      terminal.close()
      TerminationSignals.restore(previousHandlers)
    }
    var state = ConsoleState(themeNames: catalog.names, theme: theme.name)
    let problems =
      catalog.problems.map(\.description) + (themeProblem.map { [$0.description] } ?? [])
    if let first = problems.first {
      state.notice = .error(first + (problems.count > 1 ? " (+\(problems.count - 1) more)" : ""))
    }
    // What the screen shows; a frame that would show the same is skipped,
    // which keeps an idle console near zero CPU at ten frames a second.
    var shown: Frame?
    while TerminationSignals.received == nil {
      let current = try snapshot()
      perform(state.reconcile(with: current), state: &state)
      for message in libraryMessages() { state.logLibraryMessage(message, at: Self.now()) }
      state.logShownMessage(of: current, at: Self.now())
      let size = terminal.size
      let frame = Frame(snapshot: current, state: state, width: size.width, height: size.height)
      if frame != shown {
        terminal.draw(
          ConsoleScreen.render(
            current, state: state, theme: catalog.theme(named: state.themeName) ?? theme,
            width: size.width, height: size.height))
        shown = frame
      }
      switch terminal.read() {
      case .tick:
        continue
      case .closed:
        return SIGHUP
      case .resize:
        terminal.invalidate()
        shown = nil
      case .key(let key):
        let commands = state.reduce(key, in: current)
        if commands.contains(.quit) { return nil }
        perform(commands, state: &state)
        state.logShownMessage(of: current, at: Self.now())
      }
    }
    return TerminationSignals.received
  }

  /// Wall-clock seconds since 1970, for the log's times.
  static func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  /// Executes `commands`; the first failure becomes the status message
  /// (its detail, a verifier's log, goes to the message log with it).
  private func perform(_ commands: [ConsoleCommand], state: inout ConsoleState) {
    for command in commands {
      do {
        try execute(command)
      } catch let failure as CommandFailure {
        state.notice = .error(failure.message, detail: failure.detail)
        return
      } catch {
        state.notice = .error("\(error)")
        return
      }
    }
  }

  /// Everything a drawn frame depends on.
  private struct Frame: Equatable {
    var snapshot: ConsoleSnapshot
    var state: ConsoleState
    var width: Int
    var height: Int
  }
}
