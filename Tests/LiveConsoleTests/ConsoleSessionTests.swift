import Console
import Deployment
import Kernel
import LiveConsole
import Testing

/// The session's pacing and snapshots, with a hand-moved clock, a made-up
/// interface list and scripted counters: no kernel involved.
@Suite struct ConsoleSessionTests {
  let clock = ManualClock()
  let traffic = ScriptedTraffic()

  /// A session on `interface` over the scripted inputs.
  func session(
    _ interface: String? = "veth-a",
    inventory: @escaping () throws -> InterfaceInventory = { Made.inventory }
  ) -> ConsoleSession {
    ConsoleSession(
      interface: interface,
      deployment: ProgramDeployment(state: StateDirectory(path: "/nonexistent")),
      traffic: traffic, interfaces: inventory,
      kernelSupport: .unsupported("made up"), choices: [], runStatistics: false,
      clock: { [clock] in clock.now })
  }

  @Test func readsTheKernelOncePerSecondAndReusesTheSnapshotBetween() {
    var listings = 0
    let session = session {
      listings += 1
      return Made.inventory
    }
    let first = session.snapshot()
    #expect(listings == 1)
    #expect(traffic.reads.count == 1)
    clock.advance(by: 0.5)
    #expect(session.snapshot() == first)
    #expect(listings == 1, "half a second: no new listing")
    #expect(traffic.reads.count == 1, "half a second: no new sample")
    clock.advance(by: 0.5)
    _ = session.snapshot()
    #expect(listings == 2)
    #expect(traffic.reads.map(\.time) == [100, 101])
    #expect(traffic.reads.allSatisfy { $0.interface == "veth-a" })
  }

  @Test func listsInterfacesI40eFirstAsDisplayReadyRows() {
    let snapshot = session().snapshot()
    #expect(snapshot.interfaces.map(\.name) == ["ens1f0", "veth-a", "veth-b"])
    let port = snapshot.interfaces[0]
    #expect(port.isI40e)
    #expect(port.bus == "0000:3b:00.0")
    #expect(port.state == "up")
    #expect(port.receiveQueues == 8)
    #expect(
      snapshot.interfaces[1].program == KernelProgram(id: 42, name: "count", attachMode: "native"))
    #expect(snapshot.interfaces[1].bus == nil, "an empty bus address is none")
    #expect(snapshot.interfaces[2].bus == nil, "N/A is none")
    #expect(snapshot.interfaces[2].driver == "veth")
    #expect(snapshot.kernelBatchSupport == .unsupported("made up"))
  }

  @Test func ratesAndHistoryFollowTheSamplesAndTheProgramShowsItsCost() throws {
    let record = Made.record(interface: "veth-a")
    traffic.readings["veth-a"] = [
      Made.reading(record, time: 100, drops: 1_000, runs: 1_000),
      Made.reading(record, time: 101, drops: 3_000, runs: 3_000),
      Made.reading(record, time: 103, drops: 3_500, runs: 3_500),
    ]
    let session = session()
    let first = session.snapshot()
    #expect(first.traffic.totals[.drop].packets == 1_000)
    #expect(first.traffic.packetsPerSecond[.drop] == 0)
    #expect(first.history.points.isEmpty, "the first sample has no rate yet")
    let program = try #require(first.program)
    #expect(program.programName == "count")
    #expect(program.mode == .perPacket)
    #expect(program.attachMode == .native)
    #expect(program.instructionsBefore == 0, "the object cannot be read")
    #expect(program.nanosecondsPerPacket.isEmpty)

    clock.advance(by: 1)
    let second = session.snapshot()
    #expect(second.traffic.packetsPerSecond[.drop] == 2_000)
    #expect(second.traffic.bytesPerSecond[.drop] == 128_000)
    #expect(second.traffic.totals[.drop].packets == 3_000)
    #expect(second.history.points.count == 1)
    #expect(second.program?.nanosecondsPerPacket == [.perPacket: 25])

    clock.advance(by: 2)
    let third = session.snapshot()
    #expect(third.traffic.packetsPerSecond[.drop] == 250, "500 packets over two seconds")
    #expect(third.history.points.count == 2)
  }

  @Test func resettingTheBaselineCountsFromZeroAndRatesGoOn() throws {
    let record = Made.record(interface: "veth-a")
    traffic.readings["veth-a"] = [
      Made.reading(record, time: 100, drops: 1_000),
      Made.reading(record, time: 101, drops: 1_600),
    ]
    let session = session()
    #expect(session.snapshot().traffic.totals[.drop].packets == 1_000)
    try session.execute(.resetBaseline(interface: "veth-a"))
    let reset = session.snapshot()
    #expect(reset.traffic.totals[.drop].packets == 0)
    #expect(
      reset.status == .info("counting veth-a from zero (the kernel's counters are unchanged)"))
    clock.advance(by: 1)
    let next = session.snapshot()
    #expect(next.traffic.totals[.drop].packets == 600)
    #expect(next.traffic.packetsPerSecond[.drop] == 600)
  }

  @Test func nothingAttachedShowsNoProgramAndTheListsNews() {
    let snapshot = session().snapshot()
    #expect(snapshot.program == nil)
    #expect(snapshot.traffic == ActionTraffic())
    #expect(snapshot.selectedInterface == "veth-a")
    #expect(snapshot.status == .info("1 i40e port(s); ? shows the keys"))
  }

  @Test func aProgramWithoutItsRecordIsReported() {
    traffic.readings["veth-a"] = [Made.reading(nil, time: 100, drops: 5)]
    let snapshot = session().snapshot()
    #expect(snapshot.program == nil)
    #expect(snapshot.traffic.totals[.drop].packets == 5)
    #expect(
      snapshot.status
        == .error(DeploymentError.unknownProgram(interface: "veth-a").description))
  }

  @Test func failuresBecomeTheStatusLineAndClearWhenReadsWork() {
    traffic.failure = ScriptedFailure()
    var listingFails = true
    let session = session {
      if listingFails { throw ScriptedFailure() }
      return Made.inventory
    }
    let failed = session.snapshot()
    #expect(failed.status == .error("cannot list interfaces: the map went away"))
    #expect(failed.interfaces.isEmpty)
    listingFails = false
    clock.advance(by: 1)
    #expect(
      session.snapshot().status == .error("cannot read the counters of veth-a: the map went away"))
    traffic.failure = nil
    clock.advance(by: 1)
    #expect(session.snapshot().status == .info("1 i40e port(s); ? shows the keys"))
  }

  @Test func selectingAnotherInterfaceWatchesItAtOnce() throws {
    let record = Made.record(interface: "veth-b", program: "other", id: 9)
    traffic.readings["veth-b"] = [Made.reading(record, time: 100, drops: 70)]
    let session = session()
    #expect(session.snapshot().program == nil)
    try session.execute(.select(interface: "veth-b"))
    let selected = session.snapshot()
    #expect(selected.selectedInterface == "veth-b")
    #expect(selected.program?.programName == "other")
    #expect(selected.traffic.totals[.drop].packets == 70)
    #expect(traffic.reads.map(\.interface) == ["veth-a", "veth-b"])
  }

  @Test func anUnlistedInterfaceIsNamedOnTheStatusLine() {
    let snapshot = session("gone0").snapshot()
    #expect(snapshot.status == .error("no interface named gone0"))
  }
}
