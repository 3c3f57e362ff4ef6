/// Draws a whole frame: the layout's panes, then any dialog on top. Pure:
/// the same snapshot, state, theme and size give the same grid.
public enum ConsoleScreen {
  /// The frame for `snapshot` and `state` in `theme`, `width` × `height`
  /// cells; one line saying so when the terminal is under 80×24.
  public static func render(
    _ snapshot: ConsoleSnapshot, state: ConsoleState, theme: Theme, width: Int, height: Int
  ) -> ScreenGrid {
    let styles = StyleSheet(theme)
    var grid = ScreenGrid(width: width, height: height, style: styles.base)
    let visible = state.visibleInterfaces(in: snapshot)
    guard let layout = ConsoleLayout(width: width, height: height, interfaceCount: visible.count)
    else {
      let text =
        "terminal too small: \(width)x\(height), xdpbatch needs "
        + "\(ConsoleLayout.minimumWidth)x\(ConsoleLayout.minimumHeight) (q quits)"
      grid.write(text.truncated(toWidth: width), x: 0, y: 0, style: styles.error)
      return grid
    }
    let status = StatusLineView(snapshot: snapshot, state: state, styles: styles)
    status.drawHeader(into: &grid, in: layout.header)
    InterfacesView(
      interfaces: visible, selection: state.selection,
      anyI40e: snapshot.interfaces.contains(where: \.isI40e), focused: state.focus == .interfaces,
      state: state, styles: styles
    ).draw(into: &grid, in: layout.interfaces)
    let showsSelection = snapshot.selectedInterface == state.selection
    let foreign =
      showsSelection && snapshot.program != nil
      ? nil : snapshot.interface(named: state.selection)?.program
    ProgramView(
      program: showsSelection ? snapshot.program : nil,
      interface: state.selection,
      foreign: foreign,
      kernel: snapshot.kernelBatchSupport,
      focused: state.focus == .program, scroll: state.programScroll, styles: styles
    ).draw(into: &grid, in: layout.program)
    HistogramView(
      traffic: showsSelection ? snapshot.traffic : ActionTraffic(),
      uncounted: foreign.map {
        "no counts: \($0.name ?? "program") #\($0.id) was attached by another tool, and only "
          + "xdpbatch's programs count actions (its runs are in the program pane)"
      },
      focused: state.focus == .actions, styles: styles
    ).draw(into: &grid, in: layout.actions)
    RatePlotView(
      history: state.frozenHistory ?? (showsSelection ? snapshot.history : RateHistory()),
      window: state.plotWindow, paused: state.plotsPaused, focused: state.focus == .history,
      styles: styles
    ).draw(into: &grid, in: layout.history)
    status.drawStatus(into: &grid, in: layout.status)
    if let overlay = state.overlay {
      OverlayView(overlay: overlay, snapshot: snapshot, log: state.log, styles: styles)
        .draw(into: &grid, in: grid.bounds)
    }
    return grid
  }
}
