import Console
import Inspection
import Testing

/// The console as an operator who uses bpftop daily expects it (issue 13):
/// a message log, names and programs in full at 80×24, a sort key, Esc
/// that never quits, and what the kernel knows about another tool's
/// program.
@Suite struct OperatorConsoleTests: ConsoleRendering {
  let catalog = ThemeCatalog(directories: [])

  // Item 7: the status line shows the cause; the log keeps everything.

  @Test func statusLineShowsTheCauseNotThePrefix() {
    let message = StatusMessage.error(
      "attach xdp_stack from /very/long/path/to/build/samples/xdp_stack.o to ens1f1: load program \"xdp_stack\": Permission denied (errno 13)"
    )
    let headline = message.headline(width: 50)
    #expect(headline.hasSuffix("Permission denied (errno 13)"))
    #expect(!headline.contains("attach xdp_stack from"))
    #expect(headline.count <= 50)
    let verifier = StatusMessage.error(
      "the verifier rejected program \"xdp\" at instruction 7:\n0: (b7) r0 = 2\n7: (bf) r1 = r3\nR3 !read_ok"
    )
    #expect(verifier.headline(width: 60) == "…R3 !read_ok")
    #expect(StatusMessage.info("attached").headline(width: 60) == "attached")
  }

  @Test func messageLogKeepsEveryMessageWithTheVerifierLog() throws {
    var snapshot = try Fixtures.live()
    var state = started(snapshot)
    state.logShownMessage(of: snapshot, at: 1_800_000_000)
    state.logShownMessage(of: snapshot, at: 1_800_000_000)
    #expect(state.log.count == 1)
    let log = (0..<40).map { "\($0): (b7) r0 = \($0)" }.joined(separator: "\n")
    state.notice = .error(
      "the verifier rejected program \"big\" at instruction 39:\nR3 !read_ok", detail: log)
    state.logShownMessage(of: snapshot, at: 1_800_000_000)
    #expect(state.log.count == 2)
    #expect(state.reduce(.character("l"), in: snapshot).isEmpty)
    #expect(state.overlay == .messages(scroll: 0))
    var screen = render(snapshot, state, width: 120, height: 40).joined(separator: "\n")
    #expect(screen.contains("messages (2)"))
    #expect(screen.contains("39: (b7) r0 = 39"))
    #expect(!screen.contains(" 0: (b7) r0 = 0"))
    // Scrolling back reaches the first lines of the verifier log.
    _ = state.reduce(.home, in: snapshot)
    screen = render(snapshot, state, width: 120, height: 40).joined(separator: "\n")
    #expect(screen.contains("0: (b7) r0 = 0"))
    #expect(screen.contains("attached xdp_prog1 to ens1f1"))
    // Esc closes the log and quits nothing.
    #expect(state.reduce(.escape, in: snapshot).isEmpty)
    #expect(state.overlay == nil)
    snapshot.status = nil
    state.notice = nil
    state.logShownMessage(of: snapshot, at: 1_800_000_000)
    #expect(state.log.count == 2)
  }

  // Item 14: names and programs in full at 80×24; Esc; sorting; filter.

  @Test func programColumnKeepsItsTextAt80x24() throws {
    var snapshot = try Fixtures.live()
    let index = try #require(snapshot.interfaces.firstIndex { $0.name == "ens1f1" })
    let program = try #require(snapshot.interfaces[index].program)
    let rows = render(snapshot, started(snapshot))
    let text = rows.joined(separator: "\n")
    #expect(text.contains("\(program.name ?? "?") #\(program.id)"))
    #expect(!text.contains("PR…"))
    #expect(rows[2].contains("NAME") && rows[2].contains("PROGRAM") && rows[2].contains("XDP"))
    // The lesser columns went first: the state is not shown at 80
    // columns, but is at 200.
    #expect(rows[2].contains("DRIVER"))
    #expect(!rows[2].contains("STATE"))
    #expect(render(snapshot, started(snapshot), width: 200, height: 60)[2].contains("STATE"))
    // With no program anywhere the heading still fits.
    let idle = Fixtures.idle(try Fixtures.machineWithoutPrograms())
    #expect(render(idle, started(idle))[2].contains("PROGRAM"))
    // A long name is shown in full.
    snapshot.interfaces[index].name = "enp175s0f1.100"
    snapshot.selectedInterface = "enp175s0f1.100"
    #expect(render(snapshot, started(snapshot)).joined().contains("enp175s0f1.100"))
  }

  @Test func sortKeyCyclesNameRxRateAndProgram() throws {
    var snapshot = try Fixtures.live()
    for index in snapshot.interfaces.indices {
      snapshot.interfaces[index].receivePacketsPerSecond = Double(index * 1000)
    }
    var state = started(snapshot)
    let listed = state.visibleInterfaces(in: snapshot).map(\.name)
    _ = state.reduce(.character("o"), in: snapshot)
    #expect(state.order == .name)
    #expect(state.visibleInterfaces(in: snapshot).map(\.name) == listed.sorted())
    _ = state.reduce(.character("o"), in: snapshot)
    #expect(state.order == .receiveRate)
    let byRate = state.visibleInterfaces(in: snapshot).compactMap(\.receivePacketsPerSecond)
    #expect(byRate == byRate.sorted(by: >))
    #expect(render(snapshot, state)[1].contains("by rx rate"))
    _ = state.reduce(.character("o"), in: snapshot)
    #expect(state.order == .program)
    let first = try #require(state.visibleInterfaces(in: snapshot).first)
    #expect(first.program != nil)
    _ = state.reduce(.character("o"), in: snapshot)
    #expect(state.order == .listed)
    #expect(state.visibleInterfaces(in: snapshot).map(\.name) == listed)
  }

  @Test func escapeClearsTheFilterAndNeverQuits() throws {
    let snapshot = try Fixtures.live()
    var state = started(snapshot)
    _ = state.reduce(.character("/"), in: snapshot)
    for character in "ens" { _ = state.reduce(.character(character), in: snapshot) }
    _ = state.reduce(.enter, in: snapshot)
    #expect(state.visibleInterfaces(in: snapshot).allSatisfy { $0.name.contains("ens") })
    #expect(!state.reduce(.escape, in: snapshot).contains(.quit))
    #expect(state.filter.isEmpty)
    #expect(!state.reduce(.escape, in: snapshot).contains(.quit))
    for overlayKey: Key in [.character("?"), .character("a"), .character("l")] {
      _ = state.reduce(overlayKey, in: snapshot)
      #expect(state.overlay != nil)
      #expect(state.reduce(.escape, in: snapshot).isEmpty)
      #expect(state.overlay == nil)
    }
    #expect(state.reduce(.character("q"), in: snapshot) == [.quit])
  }

  // Item 15: another tool's program.

  @Test func foreignProgramShowsWhatTheKernelKnowsAndDetachesByID() throws {
    var snapshot = Fixtures.idle(try Fixtures.machine())
    let index = try #require(snapshot.interfaces.firstIndex { $0.program == nil })
    let name = snapshot.interfaces[index].name
    snapshot.interfaces[index].program = KernelProgram(
      id: 812, name: "xdp_pass_prog", attachMode: "native",
      details: KernelProgramDetails(
        tag: "3b185187f1855c4c", runCount: 2_000_000, runTimeNanoseconds: 50_000_000,
        maps: ["xdp_stats (array, id 44)"]))
    snapshot.selectedInterface = name
    var state = ConsoleState(themeNames: catalog.names)
    state.selection = name
    let text = render(snapshot, state, width: 120, height: 40).joined(separator: "\n")
    #expect(text.contains("xdp_pass_prog #812"))
    #expect(text.contains("3b185187f1855c4c"))
    #expect(text.contains("2.00 M · 25.0 ns per run"))
    #expect(text.contains("xdp_stats (array, id 44)"))
    #expect(text.contains("attached by another tool"))
    #expect(text.contains("no counts: xdp_pass_prog #812 was attached by another tool"))
    #expect(!text.contains("│ DROP"))
    _ = state.reduce(.character("d"), in: snapshot)
    #expect(render(snapshot, state).joined().contains("another tool's"))
    #expect(
      state.reduce(.character("y"), in: snapshot) == [
        .detachForeign(interface: name, programID: 812)
      ])
  }
}
