import BPF
import Console
import Testing

/// The maps pane (`m`) and the per-CPU pane (`c`): keys, scrolling, and
/// what they draw from the snapshot they are handed.
@Suite struct InspectionPaneTests {
  static func snapshot() throws -> ConsoleSnapshot {
    var snapshot = Fixtures.idle(try Fixtures.machine())
    snapshot.selectedInterface = snapshot.interfaces.first?.name
    snapshot.maps = [
      MapPanel(
        name: "rxcnt", kind: "percpu_array, 256 entries",
        entries: (0..<30).map { MapPanel.Entry(key: String($0), value: String($0 * 2)) }),
      MapPanel(
        name: "xdp_stats_map", kind: "percpu_array, 5 entries",
        entries: [.init(key: "XDP_DROP", value: "{packets: 7, bytes: 448}")]),
    ]
    var first = ActionCounts()
    first[.drop] = ActionCount(packets: 7, bytes: 448)
    var second = ActionCounts()
    second[.pass] = ActionCount(packets: 3, bytes: 192)
    snapshot.perCPU = [first, second]
    return snapshot
  }

  static func text(_ snapshot: ConsoleSnapshot, _ state: ConsoleState, width: Int, height: Int)
    -> String
  {
    let grid = ConsoleScreen.render(
      snapshot, state: state, theme: .standard, width: width, height: height)
    return GridTranscript.characters(of: grid).joined(separator: "\n")
  }

  @Test func mapsPaneOpensScrollsAndCloses() throws {
    let snapshot = try Self.snapshot()
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    #expect(state.reduce(.character("m"), in: snapshot).isEmpty)
    #expect(state.overlay == .maps(scroll: 0))
    _ = state.reduce(.down, in: snapshot)
    _ = state.reduce(.character("j"), in: snapshot)
    #expect(state.overlay == .maps(scroll: 2))
    _ = state.reduce(.up, in: snapshot)
    #expect(state.overlay == .maps(scroll: 1))
    for _ in 0..<5 { _ = state.reduce(.pageDown, in: snapshot) }
    let lines = MapPanel.lines(snapshot.maps).count
    #expect(state.overlay == .maps(scroll: lines - 1), "scrolling stops at the last line")
    #expect(state.reduce(.escape, in: snapshot).isEmpty, "Escape closes the pane, not the console")
    #expect(state.overlay == nil)
  }

  @Test func mapsPaneDrawsHeadingsAndEntries() throws {
    let snapshot = try Self.snapshot()
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    _ = state.reduce(.character("m"), in: snapshot)
    let screen = Self.text(snapshot, state, width: 80, height: 24)
    #expect(screen.contains("rxcnt  (percpu_array, 256 entries)"))
    #expect(screen.contains("3  →  6"))
    _ = state.reduce(.pageDown, in: snapshot)
    _ = state.reduce(.pageDown, in: snapshot)
    _ = state.reduce(.pageDown, in: snapshot)
    let scrolled = Self.text(snapshot, state, width: 80, height: 24)
    #expect(scrolled.contains("XDP_DROP  →  {packets: 7, bytes: 448}"))
    #expect(!scrolled.contains("3  →  6"))
  }

  @Test func perCPUPaneShowsEachCPU() throws {
    let snapshot = try Self.snapshot()
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    _ = state.reduce(.character("c"), in: snapshot)
    #expect(state.overlay == .perCPU)
    let screen = Self.text(snapshot, state, width: 120, height: 40)
    let rows = screen.split(separator: "\n")
    #expect(rows.contains { $0.contains("CPU") && $0.contains("REDIRECT") })
    #expect(rows.contains { $0.contains("0 ") && $0.contains("7") })
    _ = state.reduce(.character("c"), in: snapshot)
    #expect(state.overlay == nil, "c again closes it")
  }
}
