import Console

/// Renders the console's screen as text, the way the console suites
/// read it: the frame's characters row by row, in the default theme.
protocol ConsoleRendering {
  var catalog: ThemeCatalog { get }
}

extension ConsoleRendering {
  /// The screen for `snapshot` and `state`, one string a row.
  func render(_ snapshot: ConsoleSnapshot, _ state: ConsoleState, width: Int = 80, height: Int = 24)
    -> [String]
  {
    let theme = catalog.theme(named: "default")!
    return GridTranscript.characters(
      of: ConsoleScreen.render(snapshot, state: state, theme: theme, width: width, height: height))
  }

  /// A state cycling through the catalog's themes, reconciled with `snapshot`.
  func started(_ snapshot: ConsoleSnapshot) -> ConsoleState {
    var state = ConsoleState(themeNames: catalog.names)
    _ = state.reconcile(with: snapshot)
    return state
  }
}
