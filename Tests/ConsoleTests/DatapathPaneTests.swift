import Console
import Testing

/// The program pane and the status line for the software datapath: where
/// the program runs, copy or zero-copy, the program's and the whole
/// datapath's time per packet side by side, and `b`'s question.
@Suite struct DatapathPaneTests {
  /// The live fixture with its program moved to the software datapath.
  static func software(zeroCopy: Bool?, move: String? = nil) throws -> ConsoleSnapshot {
    var snapshot = try Fixtures.live()
    snapshot.program?.datapath = "software"
    snapshot.program?.zeroCopy = zeroCopy
    snapshot.program?.nanosecondsPerPacket = [.perPacket: 40, .batch: 10]
    snapshot.program?.datapathNanosecondsPerPacket = [.perPacket: 400, .batch: 200]
    snapshot.program?.datapathMove = move
    return snapshot
  }

  static func lines(_ snapshot: ConsoleSnapshot, _ state: ConsoleState, width: Int = 120)
    -> [String]
  {
    GridTranscript.characters(
      of: ConsoleScreen.render(snapshot, state: state, theme: .standard, width: width, height: 40))
  }

  @Test func programPaneShowsTheSoftwareDatapathAndBothCostsPerForm() throws {
    let snapshot = try Self.software(zeroCopy: false)
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    let lines = Self.lines(snapshot, state)
    #expect(lines.contains { $0.contains("mode     batch · software AF_XDP copy") })
    #expect(lines.contains { $0.contains("ns/pkt   40.0 ns → 10.0 ns  (-75%)  program") })
    #expect(lines.contains { $0.contains("datapath 400 ns → 200 ns  (-50%)  whole datapath") })

    let zeroCopy = try Self.software(zeroCopy: true)
    #expect(Self.lines(zeroCopy, state).contains { $0.contains("software AF_XDP zero-copy") })
  }

  /// The software datapath's figures (both forms, one engine) with the
  /// kernel's own on a line of its own, kept after the move back.
  @Test func softwareFiguresNameTheEngineAndTheKernelsStandApart() throws {
    var snapshot = try Self.software(zeroCopy: false)
    snapshot.program?.softwareEngine = "jit"
    snapshot.program?.kernelNanosecondsPerPacket = [.perPacket: 32]
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    var lines = Self.lines(snapshot, state)
    #expect(lines.contains { $0.contains("ns/pkt   40.0 ns → 10.0 ns  (-75%)  software jit") })
    #expect(lines.contains { $0.contains("datapath 400 ns → 200 ns  (-50%)  whole datapath") })
    #expect(lines.contains { $0.contains("kernel   32.0 ns per-packet  run statistics") })
    snapshot.program?.datapath = "kernel"
    snapshot.program?.mode = .perPacket
    lines = Self.lines(snapshot, state)
    #expect(lines.contains { $0.contains("ns/pkt   40.0 ns → 10.0 ns  (-75%)  software jit") })
    #expect(lines.contains { $0.contains("kernel   32.0 ns per-packet") })
  }

  @Test func kernelProgramPaneSaysKernelAndHasNoDatapathRow() throws {
    let snapshot = try Fixtures.live()
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    let lines = Self.lines(snapshot, state)
    #expect(lines.contains { $0.contains("mode     batch · kernel native") })
    #expect(!lines.contains { $0.contains("whole datapath") })
  }

  /// `b` on a program the rewriter refuses says why at once, asks
  /// nothing and changes nothing (issue 24: it asked for y first).
  @Test func bRefusesAProgramWithoutABatchFormBeforeAsking() throws {
    var snapshot = try Fixtures.live()
    snapshot.program?.mode = .perPacket
    snapshot.program?.datapath = "kernel"
    snapshot.program?.datapathMove = "move ens1f1 to the software datapath (AF_XDP) in batch form"
    snapshot.program?.batchRefusal = "instruction 12: a tail call cannot be batched"
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    let interface = try #require(state.selection)
    #expect(state.reduce(.character("b"), in: snapshot).isEmpty)
    #expect(state.overlay == nil, "no question")
    let name = try #require(snapshot.program?.programName)
    #expect(
      state.notice
        == .error(
          "b: \(name) has no batch form: instruction 12: a tail call cannot be batched; nothing changed on \(interface)"
        ))
    // In batch form already, b goes back to per-packet as before.
    snapshot.program?.mode = .batch
    snapshot.program?.datapathMove = nil
    #expect(state.reduce(.character("b"), in: snapshot) == [.swapMode(interface: interface)])
  }

  @Test func bAsksOnTheStatusLineAndOnlyYGoesOn() throws {
    let move = "move ens1f1 back to the kernel datapath in per-packet form"
    let snapshot = try Self.software(zeroCopy: false, move: move)
    var state = ConsoleState()
    _ = state.reconcile(with: snapshot)
    let interface = try #require(state.selection)
    #expect(state.reduce(.character("b"), in: snapshot).isEmpty)
    #expect(state.overlay == .confirmSwap(interface: interface, move: move))
    let status = try #require(Self.lines(snapshot, state, width: 200).last)
    #expect(status.contains("b: \(move)? y to confirm, any other key cancels"))
    #expect(status.contains("y move"))
    #expect(state.reduce(.enter, in: snapshot).isEmpty, "Enter is not y")
    #expect(state.notice == .info("b cancelled: nothing changed on \(interface)"))
    _ = state.reduce(.character("b"), in: snapshot)
    #expect(state.reduce(.character("y"), in: snapshot) == [.swapMode(interface: interface)])
    #expect(state.overlay == nil)
  }
}
