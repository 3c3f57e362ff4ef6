import BPF
import Frames
import KernelTestSupport
import Testing

@testable import Kernel

/// Maps, program loads and test runs against the real kernel.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct KernelObjectTests {
  @Test func perCPUMapValuesAreSummed() throws {
    let map = try KernelMap.create(ActionCounters.definition)
    let key = KernelMap.key(XDPAction.tx.rawValue)
    let value: [UInt8] = [5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
    try map.update(key: key, value: value)
    let copies = try #require(try map.lookup(key: key))
    #expect(copies.count == KernelMap.possibleCPUs)
    #expect(try map.lookupSummed(key: key) == [5 * UInt64(copies.count), 7 * UInt64(copies.count)])
    let counts = try ActionCounters(map: map).read()
    #expect(counts[.tx].packets == 5 * UInt64(copies.count))
    #expect(counts[.drop].packets == 0)
  }

  @Test func loaderCreatesMapsPatchesAndRunsTheProgram() throws {
    let program = TestPrograms.counting(.drop, name: "count_drop")
    let loaded = try ProgramLoader(maps: [ActionCounters.definition]).load(program)
    let counters = ActionCounters(map: try #require(loaded.maps[0]))
    let frame = FrameTemplate.udp(
      from: [2, 0, 0, 0, 0, 1], to: [2, 0, 0, 0, 0, 2], source: [198, 18, 0, 2],
      destination: [198, 18, 0, 1])
    let repetitions: UInt32 = 17
    let result = try TestRun(frame: frame.bytes, repetitions: repetitions).run(loaded.program)
    #expect(result.returnValue == XDPAction.drop.rawValue)
    #expect(result.frame == frame.bytes)
    let counts = try counters.read()
    #expect(counts[.drop].packets == UInt64(repetitions))
    #expect(counts[.drop].bytes == UInt64(repetitions) * UInt64(frame.bytes.count))
    #expect(counts.totalPackets == UInt64(repetitions))
  }

  @Test func loaderReusesAGivenMap() throws {
    let counters = try ActionCounters.create()
    let program = TestPrograms.counting(.pass, name: "count_pass", countersIndex: 1)
    let other = MapDefinition(name: "unused", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
    let loaded = try ProgramLoader(
      maps: [other, ActionCounters.definition], reusing: [1: counters.map]
    ).load(program)
    #expect(loaded.maps.keys.sorted() == [1])
    _ = try TestRun(frame: [UInt8](repeating: 0xff, count: 60)).run(loaded.program)
    #expect(try counters.read()[.pass].packets == 1)
  }

  @Test func verifierRejectionNamesTheInstruction() throws {
    // Instruction 1 reads R3, which nothing wrote.
    let badIndex = 1
    let program = Program(
      name: "reads_r3", sectionName: "xdp",
      instructions: [.move(.r0, immediate: 2), .move(.r1, .r3), .exit])
    #expect(program.instructions[badIndex] == .move(.r1, .r3))
    let error = try #require(throws: LoadError.self) {
      _ = try ProgramLoader(maps: []).load(program)
    }
    guard case .rejected(let name, let instruction, let reason, _, _) = error else {
      Issue.record("expected a verifier rejection, got \(error)")
      return
    }
    #expect(name == "reads_r3")
    #expect(instruction == badIndex)
    #expect(reason.contains("R3"))
    #expect(error.description.contains("instruction \(badIndex)"))
  }

  @Test func unknownMapIndexIsReportedWithTheInstruction() throws {
    let program = TestPrograms.counting(.drop, name: "bad_map", countersIndex: 3)
    let instruction = try #require(program.mapReferences.first?.instruction)
    #expect(
      throws: LoadError.unknownMap(
        program: "bad_map", instruction: instruction, mapIndex: 3, mapCount: 1)
    ) {
      _ = try ProgramLoader(maps: [ActionCounters.definition]).load(program)
    }
  }

  @Test func runStatisticsCountRuns() throws {
    let statistics = try RunStatistics.enable()
    let loaded = try ProgramLoader(maps: []).load(TestPrograms.returning(.pass, name: "stats"))
    let before = try loaded.program.info()
    _ = try TestRun(frame: [UInt8](repeating: 0, count: 60), repetitions: 5).run(loaded.program)
    let after = try loaded.program.info()
    withExtendedLifetime(statistics) {}
    #expect(after.id == before.id)
    #expect(after.name == "stats")
    // Test runs count when statistics are on (bpf_test_run uses bpf_prog_run).
    #expect(after.runCount >= before.runCount + 5)
  }
}
