/// What the console remembers between frames: focus, selection, filter,
/// the open dialog, theme and plot settings. Pure data; keys change it
/// through ``reduce(_:in:)``, which returns the commands for the layer above.
public struct ConsoleState: Hashable, Sendable {
  /// The focused pane.
  public var focus: Pane = .interfaces
  /// The interface under the cursor, by name (names survive re-listing).
  public var selection: String? {
    didSet { if selection != oldValue { programScroll = 0 } }
  }
  /// Lines of the program pane scrolled past its top (↑/↓ while it has
  /// the focus; the view keeps the last line in sight).
  public var programScroll = 0
  /// Whether only i40e ports are listed.
  public var i40eOnly = false
  /// Text the interface list is filtered by (name, driver or program).
  public var filter = ""
  /// The dialog on top, if any.
  public var overlay: Overlay?
  /// The themes `t` cycles through.
  public var themeNames: [String]
  /// The current theme's position in ``themeNames``.
  public var themeIndex = 0
  /// The history the plot shows while paused; `nil` while live.
  public var frozenHistory: RateHistory?
  /// Seconds of history the plot shows.
  public var plotWindow: Double = ConsoleState.plotWindows[0]
  /// The console's own last message (theme changed, nothing selected),
  /// cleared by the next key.
  public var notice: StatusMessage? {
    didSet { if notice != nil { noticesSet &+= 1 } }
  }
  /// How many notices were set: a notice set again with the same text
  /// is another occurrence for the log.
  private var noticesSet = 0
  /// ``noticesSet`` when the log last took the notice.
  private var noticesLogged = 0
  /// The snapshot's status the log last took.
  private var statusLogged: StatusMessage?
  /// How the interface list is sorted (`o` cycles).
  public var order: InterfaceOrder = .listed
  /// Every message the status line showed and every line libbpf or
  /// libxdp printed, each once, oldest first (`l` opens it).
  public private(set) var log = MessageLog()

  /// The plot lengths Up and Down step through in the plot pane.
  public static let plotWindows: [Double] = [60, 120, 300, 600]

  /// A fresh state cycling through `themeNames`, starting at `theme`.
  public init(themeNames: [String] = ["default"], theme: String? = nil) {
    self.themeNames = themeNames.isEmpty ? ["default"] : themeNames
    themeIndex = theme.flatMap { self.themeNames.firstIndex(of: $0) } ?? 0
  }

  /// The current theme's name.
  public var themeName: String { themeNames[themeIndex % themeNames.count] }

  /// Whether the plot is frozen.
  public var plotsPaused: Bool { frozenHistory != nil }

  /// The interfaces the list shows, in the snapshot's order, after the
  /// i40e-only toggle and the filter.
  public func visibleInterfaces(in snapshot: ConsoleSnapshot) -> [InterfaceRow] {
    let needle = filter.lowercased()
    return order.sorted(snapshot.interfaces).filter { interface in
      if i40eOnly && !interface.isI40e { return false }
      guard !needle.isEmpty else { return true }
      let fields = [interface.name, interface.driver ?? "", interface.program?.name ?? ""]
      return fields.contains { $0.lowercased().contains(needle) }
    }
  }

  /// Logs what came to the status line since the last call: a notice
  /// newly set (the same text set again is another occurrence), and the
  /// snapshot's status when it changed. A message that stays on the
  /// status line for many frames is logged once.
  public mutating func logShownMessage(of snapshot: ConsoleSnapshot, at time: Double) {
    if let notice, noticesSet != noticesLogged {
      log.append(notice, at: time)
    }
    noticesLogged = noticesSet
    if let status = snapshot.status, status != statusLogged {
      log.append(status, at: time)
    }
    statusLogged = snapshot.status
  }

  /// Logs a line a library printed (libbpf, libxdp), which came at `time`.
  public mutating func logLibraryMessage(_ message: StatusMessage, at time: Double) {
    log.append(message, at: time)
  }

  /// Keeps the selection on a listed interface after the list changed:
  /// adopts the snapshot's selected interface at first, otherwise moves to
  /// the first listed one. Returns `.select` when the selection moved.
  public mutating func reconcile(with snapshot: ConsoleSnapshot) -> [ConsoleCommand] {
    let visible = visibleInterfaces(in: snapshot)
    if let selection, visible.contains(where: { $0.name == selection }) { return [] }
    if selection == nil, let wanted = snapshot.selectedInterface,
      visible.contains(where: { $0.name == wanted })
    {
      selection = wanted
      return []
    }
    guard let first = visible.first?.name else {
      selection = nil
      return []
    }
    selection = first
    return first == snapshot.selectedInterface ? [] : [.select(interface: first)]
  }

  /// Moves the cursor `step` rows (clamped to the list).
  mutating func moveSelection(by step: Int, in snapshot: ConsoleSnapshot) -> [ConsoleCommand] {
    let visible = visibleInterfaces(in: snapshot)
    guard !visible.isEmpty else { return [] }
    let current = visible.firstIndex { $0.name == selection } ?? 0
    let target = visible[max(0, min(visible.count - 1, current + step))].name
    guard target != selection else { return [] }
    selection = target
    return [.select(interface: target)]
  }

  /// Whether xdpbatch or anything else has a program on `interface`.
  func hasProgram(on interface: String, in snapshot: ConsoleSnapshot) -> Bool {
    if snapshot.selectedInterface == interface, snapshot.program != nil { return true }
    return snapshot.interface(named: interface)?.program != nil
  }
}
