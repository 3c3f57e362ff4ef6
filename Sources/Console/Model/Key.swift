/// A key press, as the console understands it (the terminal backend turns
/// curses' codes into these).
public enum Key: Hashable, Sendable {
  /// A printable character.
  case character(Character)
  /// Arrow up.
  case up
  /// Arrow down.
  case down
  /// Arrow left.
  case left
  /// Arrow right.
  case right
  /// Page up.
  case pageUp
  /// Page down.
  case pageDown
  /// Home.
  case home
  /// End.
  case end
  /// Tab.
  case tab
  /// Shift-Tab.
  case backTab
  /// Enter or Return.
  case enter
  /// Escape.
  case escape
  /// Backspace or Delete-left.
  case backspace
  /// Ctrl-C (the terminal is in raw mode, so it arrives as a key).
  case interrupt
  /// Any other control or function key.
  case other(Int)
}

/// What the console asks the layer above (LiveConsole, through Deployment)
/// to do. The app loop executes these; the console itself never touches
/// the kernel.
public enum ConsoleCommand: Hashable, Sendable {
  /// Show `interface` in the program, histogram and plot panes.
  case select(interface: String)
  /// Load `program` (`nil`: the object's first XDP program) from the
  /// object at `objectPath` and attach it to `interface`.
  case attach(interface: String, objectPath: String, program: String?)
  /// Swap `interface`'s program between per-packet and batch form.
  case swapMode(interface: String)
  /// Rewrite with the next stack strategy (shift, reserve).
  case cycleStrategy(interface: String)
  /// Detach xdpbatch's program from `interface`.
  case detach(interface: String)
  /// Detach program `programID`, which another tool attached, from
  /// `interface` (as `xdpbatch detach --force`).
  case detachForeign(interface: String, programID: UInt32)
  /// Count totals from now on (a new baseline).
  case resetBaseline(interface: String)
  /// Leave the console.
  case quit
}

/// The panes Tab moves between.
public enum Pane: Int, Hashable, Sendable, CaseIterable {
  /// The interface list.
  case interfaces
  /// The program and its rewrite.
  case program
  /// The per-action histogram.
  case actions
  /// The plot of packets per second.
  case history

  /// The next pane (Tab), or the previous one (Shift-Tab).
  func moved(by step: Int) -> Pane {
    let count = Pane.allCases.count
    return Pane(rawValue: ((rawValue + step) % count + count) % count) ?? .interfaces
  }
}

/// A dialog drawn over the panes, which takes the keys while it is open.
public enum Overlay: Hashable, Sendable {
  /// The key help (`?`).
  case help
  /// Choosing what to attach.
  case attach(AttachChooser)
  /// Asking before detaching the program from `interface`.
  case confirmDetach(interface: String)
  /// Asking on the status line before `b` carries out `move` on
  /// `interface` (from the kernel to the software datapath or back).
  case confirmSwap(interface: String, move: String)
  /// Typing an interface filter; `previous` is restored by Escape.
  case filter(previous: String)
  /// The message log (`l`), `scroll` lines back from its end.
  case messages(scroll: Int)
  /// The maps of the selected program, scrolled down `scroll` lines.
  case maps(scroll: Int)
  /// The selected program's action counts per CPU.
  case perCPU
}

/// The attach chooser's state: a cursor over the bundled samples plus a
/// last row for typing a path.
public struct AttachChooser: Hashable, Sendable {
  /// The interface to attach to.
  public var interface: String
  /// The highlighted row; `choices.count` is the "type a path" row.
  public var cursor: Int = 0
  /// Whether the path is being typed.
  public var typing = false
  /// The typed path so far.
  public var path = ""

  /// A chooser for `interface`.
  public init(interface: String) {
    self.interface = interface
  }
}

extension ConsoleCommand: CustomStringConvertible {
  /// What the command does, in the operator's words ("swap per-packet ⇄
  /// batch on ens1f0"), for status messages.
  public var description: String {
    switch self {
    case .select(let interface): "select \(interface)"
    case .attach(let interface, let objectPath, let program):
      "attach \(program.map { $0 + " from " } ?? "")\(objectPath) to \(interface)"
    case .swapMode(let interface): "swap per-packet ⇄ batch on \(interface)"
    case .cycleStrategy(let interface): "change the rewrite strategy on \(interface)"
    case .detach(let interface): "detach from \(interface)"
    case .detachForeign(let interface, let programID):
      "detach program \(programID) from \(interface)"
    case .resetBaseline(let interface): "reset the counters of \(interface)"
    case .quit: "quit"
    }
  }
}
