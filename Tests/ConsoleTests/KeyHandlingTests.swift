import Console
import Testing

/// Keys turned into state changes and commands, on the recorded machine.
@Suite struct KeyHandlingTests {
  let snapshot: ConsoleSnapshot
  let names: [String]

  init() throws {
    var snapshot = Fixtures.idle(try Fixtures.machine())
    snapshot.attachChoices = Fixtures.choices
    self.snapshot = snapshot
    names = snapshot.interfaces.map(\.name)
  }

  func started(themes: [String] = ["default", "light", "mono"]) -> ConsoleState {
    var state = ConsoleState(themeNames: themes)
    _ = state.reconcile(with: snapshot)
    return state
  }

  @Test func startsOnTheFirstListedInterfaceAndTellsControl() {
    var state = ConsoleState()
    #expect(state.reconcile(with: snapshot) == [.select(interface: names[0])])
    #expect(state.selection == names[0])
    #expect(state.reconcile(with: snapshot).isEmpty)
  }

  @Test func adoptsTheInterfaceControlAlreadyShows() {
    var shown = snapshot
    shown.selectedInterface = names[2]
    var state = ConsoleState()
    #expect(state.reconcile(with: shown).isEmpty)
    #expect(state.selection == names[2])
  }

  @Test func arrowsAndVimKeysMoveTheSelectionWithinTheList() {
    var state = started()
    #expect(state.reduce(.down, in: snapshot) == [.select(interface: names[1])])
    #expect(state.reduce(.character("j"), in: snapshot) == [.select(interface: names[2])])
    #expect(state.reduce(.character("k"), in: snapshot) == [.select(interface: names[1])])
    #expect(state.reduce(.up, in: snapshot) == [.select(interface: names[0])])
    #expect(state.reduce(.up, in: snapshot).isEmpty)
    #expect(state.reduce(.end, in: snapshot) == [.select(interface: names[names.count - 1])])
    #expect(state.reduce(.down, in: snapshot).isEmpty)
    #expect(state.selection == names.last)
  }

  @Test func tabCyclesThePanesAndArrowsChangeTheTimeSpanInThePlot() {
    var state = started()
    var seen: [Pane] = [state.focus]
    for _ in Pane.allCases {
      _ = state.reduce(.tab, in: snapshot)
      seen.append(state.focus)
    }
    #expect(Set(seen) == Set(Pane.allCases))
    #expect(seen.first == seen.last)
    _ = state.reduce(.backTab, in: snapshot)
    #expect(state.focus == .history)
    let window = state.plotWindow
    #expect(state.reduce(.down, in: snapshot).isEmpty)
    #expect(state.plotWindow > window)
    #expect(state.selection == names[0])
    _ = state.reduce(.up, in: snapshot)
    #expect(state.plotWindow == window)
  }

  /// Issue 24: ↑/↓ and the page keys moved the interface selection from
  /// the program and actions panes (and the page keys from the plot).
  @Test func arrowsAndPageKeysActOnlyInTheFocusedPane() {
    var state = started()
    _ = state.reduce(.down, in: snapshot)
    #expect(state.selection == names[1])
    for pane in [Pane.program, .actions, .history] {
      state.focus = pane
      for key in [Key.down, .up, .down, .pageDown, .end, .pageUp, .home, .character("j")] {
        #expect(state.reduce(key, in: snapshot).isEmpty, "\(key) in \(pane)")
        #expect(state.selection == names[1], "\(key) in \(pane)")
      }
    }
    state.focus = .program
    state.programScroll = 0
    _ = state.reduce(.down, in: snapshot)
    _ = state.reduce(.down, in: snapshot)
    #expect(state.programScroll == 2)
    _ = state.reduce(.up, in: snapshot)
    #expect(state.programScroll == 1)
    _ = state.reduce(.home, in: snapshot)
    #expect(state.programScroll == 0)
    state.focus = .history
    _ = state.reduce(.end, in: snapshot)
    #expect(state.plotWindow == ConsoleState.plotWindows.last)
    state.focus = .interfaces
    #expect(state.reduce(.up, in: snapshot) == [.select(interface: names[0])])
    #expect(state.programScroll == 0)
  }

  @Test func modeStrategyAndResetActOnTheSelectedInterface() {
    var state = started()
    _ = state.reduce(.down, in: snapshot)
    let name = names[1]
    #expect(state.reduce(.character("b"), in: snapshot) == [.swapMode(interface: name)])
    #expect(state.reduce(.character("s"), in: snapshot) == [.cycleStrategy(interface: name)])
    #expect(state.reduce(.character("r"), in: snapshot) == [.resetBaseline(interface: name)])
  }

  @Test func withoutInterfacesCommandsAreRefusedWithANotice() {
    let empty = ConsoleSnapshot(interfaces: [])
    var state = ConsoleState()
    _ = state.reconcile(with: empty)
    #expect(state.reduce(.character("b"), in: empty).isEmpty)
    #expect(state.notice?.severity == .error)
    #expect(state.reduce(.character("a"), in: empty).isEmpty)
    #expect(state.overlay == nil)
  }

  @Test func attachChooserSendsTheChosenSample() throws {
    var state = started()
    #expect(state.reduce(.enter, in: snapshot).isEmpty)
    guard case .attach(let chooser) = state.overlay else {
      Issue.record("Enter did not open the chooser")
      return
    }
    #expect(chooser.interface == names[0])
    _ = state.reduce(.character("j"), in: snapshot)
    let choice = Fixtures.choices[1]
    #expect(
      state.reduce(.enter, in: snapshot) == [
        .attach(interface: names[0], objectPath: choice.objectPath, program: choice.programName)
      ])
    #expect(state.overlay == nil)
  }

  @Test func attachChooserTakesATypedPath() {
    var state = started()
    _ = state.reduce(.character("a"), in: snapshot)
    for _ in 0...Fixtures.choices.count { _ = state.reduce(.down, in: snapshot) }
    _ = state.reduce(.enter, in: snapshot)
    // While typing, q and j are text, not quit and down.
    for character in "/tmp/qj.oo" {
      #expect(state.reduce(.character(character), in: snapshot).isEmpty)
    }
    _ = state.reduce(.backspace, in: snapshot)
    #expect(
      state.reduce(.enter, in: snapshot) == [
        .attach(interface: names[0], objectPath: "/tmp/qj.o", program: nil)
      ])
    _ = state.reduce(.character("a"), in: snapshot)
    _ = state.reduce(.escape, in: snapshot)
    #expect(state.overlay == nil)
  }

  @Test func detachAsksFirst() throws {
    var state = started()
    let target = try #require(snapshot.interfaces.firstIndex { $0.program != nil })
    for _ in 0..<target { _ = state.reduce(.down, in: snapshot) }
    #expect(state.reduce(.character("d"), in: snapshot).isEmpty)
    #expect(state.overlay == .confirmDetach(interface: names[target]))
    #expect(state.reduce(.character("n"), in: snapshot).isEmpty)
    #expect(state.overlay == nil)
    _ = state.reduce(.character("d"), in: snapshot)
    // Nothing of xdpbatch's runs here (no program pane): the kernel's
    // program is detached by id, as `detach --force` does.
    let id = try #require(snapshot.interfaces[target].program?.id)
    #expect(
      state.reduce(.character("y"), in: snapshot) == [
        .detachForeign(interface: names[target], programID: id)
      ])
    // Where xdpbatch's program runs, its own detach.
    let live = try Fixtures.live()
    var liveState = ConsoleState()
    _ = liveState.reconcile(with: live)
    _ = liveState.reduce(.character("d"), in: live)
    #expect(
      liveState.reduce(.character("y"), in: live) == [
        .detach(interface: try #require(live.selectedInterface))
      ])
  }

  @Test func detachWithNothingAttachedOnlySaysSo() throws {
    var state = started()
    let bare = try #require(snapshot.interfaces.firstIndex { $0.program == nil })
    for _ in 0..<bare { _ = state.reduce(.down, in: snapshot) }
    #expect(state.reduce(.character("d"), in: snapshot).isEmpty)
    #expect(state.overlay == nil)
    #expect(state.notice?.text.contains(names[bare]) == true)
  }

  @Test func quitKeysAndEscapeClosingDialogsNeverQuitting() {
    var state = started()
    #expect(state.reduce(.character("q"), in: snapshot) == [.quit])
    #expect(state.reduce(.escape, in: snapshot).isEmpty)
    #expect(state.reduce(.interrupt, in: snapshot) == [.quit])
    _ = state.reduce(.character("?"), in: snapshot)
    #expect(state.reduce(.escape, in: snapshot).isEmpty)
    #expect(state.overlay == nil)
    _ = state.reduce(.character("?"), in: snapshot)
    #expect(state.reduce(.interrupt, in: snapshot) == [.quit])
  }

  @Test func helpSwallowsTheKeyThatClosesIt() {
    var state = started()
    _ = state.reduce(.character("?"), in: snapshot)
    #expect(state.overlay == .help)
    #expect(state.reduce(.character("b"), in: snapshot).isEmpty)
    #expect(state.overlay == nil)
  }

  @Test func filterNarrowsTheListAndEscapeRestoresIt() throws {
    var state = started()
    let target = try #require(snapshot.interfaces.last)
    _ = state.reduce(.character("/"), in: snapshot)
    var commands: [ConsoleCommand] = []
    for character in target.name { commands += state.reduce(.character(character), in: snapshot) }
    #expect(state.visibleInterfaces(in: snapshot).map(\.name).contains(target.name))
    #expect(state.visibleInterfaces(in: snapshot).count < snapshot.interfaces.count)
    #expect(commands.last == .select(interface: target.name))
    _ = state.reduce(.escape, in: snapshot)
    #expect(state.filter.isEmpty)
    #expect(state.visibleInterfaces(in: snapshot).count == snapshot.interfaces.count)
    _ = state.reduce(.character("/"), in: snapshot)
    _ = state.reduce(.character("i"), in: snapshot)
    _ = state.reduce(.backspace, in: snapshot)
    _ = state.reduce(.character("z"), in: snapshot)
    _ = state.reduce(.enter, in: snapshot)
    #expect(state.filter == "z")
    #expect(state.overlay == nil)
  }

  @Test func i40eOnlyToggleKeepsTheSelectionOnAListedPort() {
    var state = started()
    _ = state.reduce(.end, in: snapshot)
    let commands = state.reduce(.character("i"), in: snapshot)
    let ports = snapshot.interfaces.filter(\.isI40e).map(\.name)
    #expect(state.visibleInterfaces(in: snapshot).map(\.name) == ports)
    #expect(commands == [.select(interface: ports[0])])
    _ = state.reduce(.character("i"), in: snapshot)
    #expect(state.visibleInterfaces(in: snapshot).count == snapshot.interfaces.count)
  }

  @Test func themeKeyCyclesAndWraps() {
    var state = started(themes: ["default", "light", "mono"])
    var seen = [state.themeName]
    for _ in 0..<3 {
      _ = state.reduce(.character("t"), in: snapshot)
      seen.append(state.themeName)
    }
    #expect(seen == ["default", "light", "mono", "default"])
  }

  @Test func pauseFreezesThePlottedHistory() {
    var live = snapshot
    live.history.append(time: 1, packetsPerSecond: [.drop: 10])
    var state = started()
    _ = state.reduce(.character("p"), in: live)
    #expect(state.plotsPaused)
    live.history.append(time: 2, packetsPerSecond: [.drop: 20])
    #expect(state.frozenHistory?.points.count == 1)
    _ = state.reduce(.character("p"), in: live)
    #expect(!state.plotsPaused)
  }
}
