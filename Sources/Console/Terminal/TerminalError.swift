/// Why the console could not take over the terminal.
public enum TerminalError: Error, Hashable, Sendable, CustomStringConvertible {
  /// curses could not start: no terminal, or an unknown `TERM`.
  case unusableTerminal(term: String?)

  /// A message saying what to check.
  public var description: String {
    switch self {
    case .unusableTerminal(let term):
      "cannot start the console on this terminal (TERM=\(term ?? "unset")); "
        + "run it in an interactive terminal, or use `xdpbatch list` and `xdpbatch stats`"
    }
  }
}
