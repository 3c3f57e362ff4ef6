import Console
import Deployment
import Kernel
import LiveConsole
import Testing

/// What the session adds for issue 13: receive rates for the RX/s column
/// and `o`, and the kernel's view of a program xdpbatch did not attach.
@Suite struct OperatorSessionTests {
  final class Counters: @unchecked Sendable {
    var packets: [String: UInt64] = ["veth-a": 1000, "ens1f0": 50]
  }

  let clock = ManualClock()
  let counters = Counters()
  let details = KernelProgramDetails(
    tag: "0123456789abcdef", runCount: 10, runTimeNanoseconds: 250, maps: ["stats (array, id 3)"])

  func session(interface: String = "veth-a") -> ConsoleSession {
    let details = details
    return ConsoleSession(
      interface: interface,
      deployment: ProgramDeployment(state: StateDirectory(path: "/nonexistent")),
      traffic: ScriptedTraffic(), interfaces: { Made.inventory },
      kernelSupport: .unsupported("made up"), choices: [], runStatistics: false,
      clock: { [clock] in clock.now }, receivedPackets: { [counters] in counters.packets[$0] },
      programDetails: { $0 == 42 ? details : nil })
  }

  @Test func receiveRatesComeFromTwoReadingsOfTheCounters() {
    let session = session()
    let first = session.snapshot()
    #expect(first.interfaces.allSatisfy { $0.receivePacketsPerSecond == nil })
    counters.packets["veth-a"] = 3000
    counters.packets["ens1f0"] = 40  // went back: starts over
    clock.advance(by: 2)
    let second = session.snapshot()
    #expect(second.interface(named: "veth-a")?.receivePacketsPerSecond == 1000)
    #expect(second.interface(named: "ens1f0")?.receivePacketsPerSecond == nil)
    #expect(second.interface(named: "veth-b")?.receivePacketsPerSecond == nil)
  }

  @Test func anotherToolsProgramCarriesWhatTheKernelKnows() {
    let snapshot = session().snapshot()
    #expect(snapshot.program == nil)
    #expect(snapshot.interface(named: "veth-a")?.program?.details == details)
    #expect(snapshot.interface(named: "veth-a")?.program?.details?.nanosecondsPerRun == 25)
    // Only the selected interface's program is read.
    let other = session(interface: "veth-b").snapshot()
    #expect(other.interface(named: "veth-a")?.program?.details == nil)
  }
}
