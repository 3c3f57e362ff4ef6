import BPF
import Console
import Datapath
import Deployment
import Foundation
import Inspection
import Kernel
import LiveConsole
import Testing

/// `b` where it moves the interface between the kernel and the software
/// datapath: the session says what will happen, the console asks for `y`
/// on the status line, any other key cancels and nothing changes, `y`
/// carries it out. A made-up interface list, scripted counters and a
/// scripted swap: no kernel involved.
@Suite struct SwapConfirmationTests {
  let clock = ManualClock()
  let traffic = ScriptedTraffic()
  /// The interfaces the scripted swap was asked to swap, in order.
  final class Swaps {
    var interfaces: [String] = []
  }
  let swaps = Swaps()

  static let kernel = Made.record(interface: "veth-a")
  /// What the swap makes of ``kernel`` on a kernel without batch XDP.
  static let software: AttachmentRecord = {
    var record = kernel
    record.form = .batch
    record.datapath = .software
    record.movedFromKernel = true
    record.programID = 43
    return record
  }()

  /// Timing as the datapath reports it: per-packet 40 ns in the program
  /// of 400 ns in the datapath, batch 10 of 200 (1,000 packets each).
  static let timing: TimingByForm = {
    var forms = TimingByForm()
    forms.perPacket = decoded(packets: 1_000, program: 40, datapath: 400)
    forms.batch = decoded(packets: 1_000, program: 10, datapath: 200)
    return forms
  }()

  static func decoded(packets: Int, program: Double, datapath: Double) -> FormTiming {
    let json =
      "{\"packets\":\(packets),\"program_ns_per_packet\":\(program),\"datapath_ns_per_packet\":\(datapath)}"
    return (try? JSONCoding.decoder().decode(FormTiming.self, from: Data(json.utf8)))
      ?? FormTiming()
  }

  func session(
    kernel: KernelBatchSupport = .unsupported("made up"),
    inventory: InterfaceInventory = Made.inventory
  ) -> ConsoleSession {
    let traffic = traffic
    let swaps = swaps
    let clock = clock
    return ConsoleSession(
      interface: "veth-a",
      deployment: ProgramDeployment(state: StateDirectory(path: "/nonexistent")),
      traffic: traffic, interfaces: { inventory },
      kernelSupport: kernel, choices: [], runStatistics: false,
      clock: { [clock] in clock.now },
      swap: { interface in
        swaps.interfaces.append(interface)
        // The datapath moves as ProgramDeployment.swap moves it.
        let current = traffic.readings[interface]?.first??.record
        let next = current?.isSoftware == true ? Self.kernel : Self.software
        var reading = Made.reading(next, time: clock.now + 1, drops: 2_000)
        if next.isSoftware {
          reading.datapath = DatapathReading(form: .batch, zeroCopy: false, forms: Self.timing)
        }
        traffic.readings[interface] = [reading]
        return next
      })
  }

  /// The keys' commands carried out by `session`, as the console's loop does.
  func press(
    _ key: Key, _ state: inout ConsoleState, _ session: ConsoleSession
  ) throws -> [ConsoleCommand] {
    let commands = state.reduce(key, in: session.snapshot())
    for command in commands { try session.execute(command) }
    return commands
  }

  @Test func bAsksFirstAnotherKeyCancelsAndYMovesTheInterfaceBothWays() throws {
    traffic.readings["veth-a"] = [Made.reading(Self.kernel, time: 100, drops: 1_000)]
    let session = session()
    var state = ConsoleState()
    let first = session.snapshot()
    _ = state.reconcile(with: first)
    #expect(state.selection == "veth-a")
    let program = try #require(first.program)
    #expect(program.datapath == "kernel")
    #expect(program.mode == .perPacket)
    #expect(program.datapathMove == "move veth-a to the software datapath (AF_XDP) in batch form")

    // b asks on the status line; another key cancels; nothing changed.
    #expect(try press(.character("b"), &state, session).isEmpty)
    #expect(
      state.notice
        == .info(
          "b: move veth-a to the software datapath (AF_XDP) in batch form? y to confirm, any other key cancels"
        ))
    #expect(try press(.character("n"), &state, session).isEmpty)
    #expect(state.notice == .info("b cancelled: nothing changed on veth-a"))
    #expect(state.overlay == nil)
    #expect(swaps.interfaces.isEmpty)
    clock.advance(by: 1)
    #expect(session.snapshot().program?.datapath == "kernel")
    #expect(session.snapshot().program?.mode == .perPacket)

    // b then y: the swap is carried out; the pane shows the software datapath.
    _ = try press(.character("b"), &state, session)
    #expect(try press(.character("y"), &state, session) == [.swapMode(interface: "veth-a")])
    #expect(swaps.interfaces == ["veth-a"])
    #expect(state.notice == nil)
    clock.advance(by: 1)
    let moved = session.snapshot()
    #expect(
      moved.status
        == .info("veth-a moved to the software datapath (AF_XDP): count runs batch"))
    let software = try #require(moved.program)
    #expect(software.datapath == "software")
    #expect(software.mode == .batch)
    #expect(software.zeroCopy == false)
    // The program's time and the whole datapath's, per form, side by side.
    #expect(software.nanosecondsPerPacket == [.perPacket: 40, .batch: 10])
    #expect(software.datapathNanosecondsPerPacket == [.perPacket: 400, .batch: 200])
    #expect(software.datapathMove == "move veth-a back to the kernel datapath in per-packet form")
    // The counters keep coming through the move.
    #expect(moved.traffic.totals[.drop].packets == 2_000)

    // b again asks before going back; Escape cancels, y goes back.
    _ = try press(.character("b"), &state, session)
    #expect(state.notice?.text.contains("back to the kernel datapath") == true)
    #expect(try press(.escape, &state, session).isEmpty)
    #expect(swaps.interfaces.count == 1)
    _ = try press(.character("b"), &state, session)
    _ = try press(.character("y"), &state, session)
    #expect(swaps.interfaces == ["veth-a", "veth-a"])
    clock.advance(by: 1)
    let back = session.snapshot()
    #expect(back.status == .info("veth-a moved to the kernel: count runs per-packet"))
    #expect(back.program?.datapath == "kernel")
    #expect(back.program?.zeroCopy == nil)
    // The software datapath's figures stay after the move back, labelled
    // as the engine's (issue 22: the batch figure disappeared).
    #expect(back.program?.softwareEngine == "engine")
    #expect(back.program?.nanosecondsPerPacket == [.perPacket: 40, .batch: 10])
    #expect(back.program?.datapathNanosecondsPerPacket == [.perPacket: 400, .batch: 200])
  }

  /// Where the kernel cannot run the batch form on the interface (its BTF
  /// unreadable, or a batch-capable kernel whose driver does not report
  /// `batch`: veth-a reports no XDP features here), `b` moves a kernel
  /// attachment to the software datapath, and asks first.
  @Test(arguments: [
    KernelBatchSupport.unknown("BTF unreadable"),
    .supported("BPF_F_XDP_BATCH: 64 B records, act at 24"),
  ])
  func bAsksWhereTheKernelCannotRunTheBatchForm(kernel: KernelBatchSupport) throws {
    traffic.readings["veth-a"] = [Made.reading(Self.kernel, time: 100, drops: 1_000)]
    let session = session(kernel: kernel)
    var state = ConsoleState()
    _ = state.reconcile(with: session.snapshot())
    #expect(
      session.snapshot().program?.datapathMove
        == "move veth-a to the software datapath (AF_XDP) in batch form")
    #expect(try press(.character("b"), &state, session).isEmpty)
    #expect(swaps.interfaces.isEmpty)
  }

  /// A batch-capable kernel and a driver that reports `batch`, in native
  /// mode: `b` swaps within the kernel at once, no question; where the
  /// attachment is generic, the kernel cannot, and `b` asks.
  @Test(arguments: [AttachMode.native, .generic])
  func bSwapsInTheKernelWhereTheDriverRunsBatchPrograms(mode: AttachMode) throws {
    var record = Self.kernel
    record.attachMode = mode
    traffic.readings["veth-a"] = [Made.reading(record, time: 100, drops: 1_000)]
    var inventory = Made.inventory
    inventory.interfaces[0].xdpFeatures = [.basic, .redirect, .batch]
    let session = session(
      kernel: .supported("BPF_F_XDP_BATCH: 64 B records, act at 24"), inventory: inventory)
    var state = ConsoleState()
    _ = state.reconcile(with: session.snapshot())
    guard mode == .native else {
      #expect(session.snapshot().program?.datapathMove != nil)
      #expect(try press(.character("b"), &state, session).isEmpty)
      #expect(swaps.interfaces.isEmpty)
      return
    }
    #expect(session.snapshot().program?.datapathMove == nil)
    #expect(try press(.character("b"), &state, session) == [.swapMode(interface: "veth-a")])
    #expect(state.overlay == nil)
    #expect(swaps.interfaces == ["veth-a"])
  }

  @Test func aSwapWithinOneDatapathNeedsNoConfirmation() throws {
    // Attached to the software datapath directly: b toggles its form there.
    var attached = Self.software
    attached.movedFromKernel = nil
    var reading = Made.reading(attached, time: 100, drops: 10)
    reading.datapath = DatapathReading(form: .batch, zeroCopy: true, forms: TimingByForm())
    traffic.readings["veth-a"] = [reading]
    let session = session()
    var state = ConsoleState()
    _ = state.reconcile(with: session.snapshot())
    #expect(session.snapshot().program?.datapathMove == nil)
    #expect(session.snapshot().program?.zeroCopy == true)
    #expect(
      state.reduce(.character("b"), in: session.snapshot()) == [.swapMode(interface: "veth-a")])
    #expect(state.overlay == nil)
  }

  @Test func theStrategyKeyRefusesOnTheSoftwareDatapath() throws {
    traffic.readings["veth-a"] = [Made.reading(Self.software, time: 100, drops: 10)]
    let session = session()
    _ = session.snapshot()
    #expect {
      try session.execute(.cycleStrategy(interface: "veth-a"))
    } throws: { "\($0)".contains("nothing was changed") }
  }
}
