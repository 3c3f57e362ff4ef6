import BPF
import Engine
import Frames
import Testing

@Suite("Packet runner")
struct RunnerTests {
  /// Per packet: DROP under 100 bytes; odd lengths redirect to ifindex
  /// (length & 7) + 1; PASS otherwise.
  static let body: [Instruction] = [
    .load(.word, .r2, from: .r1, offset: 0),
    .load(.word, .r3, from: .r1, offset: 4),
    .arithmetic(.sub, .r3, .r2),
    .move(.r0, immediate: 1),
    .jump(.jlt, .r3, immediate: 100, offset: 8),
    .move(.r0, immediate: 2),
    .jump(.jset, .r3, immediate: 1, offset: 1),
    .exit,
    .arithmetic(.and, .r3, immediate: 7),
    .add(.r3, immediate: 1),
    .move(.r1, .r3),
    .move(.r2, immediate: 0),
    .helper(.redirect),
    .exit,
  ]

  /// The same body wrapped by hand in the batch trampoline of docs/DESIGN.md:
  /// every exit jumps to an epilogue that stores the verdict in `act`,
  /// commits the redirect target, and advances to the next record.
  static var batch: [Instruction] {
    let layout = XDPContextLayout.engine
    var wrapped: [Instruction] = [
      .move(.r6, .r1), .move(.r7, .r2), .move(.r8, immediate: 0), .move(.r1, .r6),
    ]
    let epilogue = 4 + body.count
    for (index, instruction) in body.enumerated() {
      wrapped.append(
        instruction.isExit ? .jump(offset: Int16(epilogue - (4 + index + 1))) : instruction)
    }
    wrapped += [
      .store(.word, .r0, to: .r6, offset: layout.action),
      .move(.r1, .r6), .helper(.commitRedirect),
      .add(.r6, immediate: layout.stride), .add(.r8, immediate: 1),
      .jump(.jlt, .r8, .r7, offset: Int16(3 - (epilogue + 6))),
      .move(.r0, .r8), .exit,
    ]
    return wrapped
  }

  func report(_ program: [Instruction], _ form: Form, _ packets: [[UInt8]]) throws -> RunReport {
    let machine = try Machine()
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(instructions: program), form: form)
    return try runner.run(packets)
  }

  /// Regression (found against the kernel): the kernel's XDP verdict is
  /// R0's low 32 bits; upper bits do not make a verdict ABORTED.
  @Test("a verdict with R0's upper half set counts by its low 32 bits")
  func verdictIsLow32Bits() throws {
    let program = Instruction.loadImmediate64(.r0, 0x7_0000_0002) + [.exit]
    let outcome = try report(program, .perPacket, [[UInt8](repeating: 0, count: 60)]).outcomes[0]
    #expect(outcome.returnValue == 0x7_0000_0002)
    #expect(outcome.action == .pass)
  }

  @Test("batch mode gives every packet its own verdict and redirect target")
  func batchMatchesPerPacket() throws {
    var generator = FrameGenerator(seed: 11)
    let packets = generator.frames(150)
    let single = try report(Self.body, .perPacket, packets)
    let batched = try report(Self.batch, .batch, packets)
    #expect(single.outcomes == batched.outcomes)
    #expect(single.totals == batched.totals)
    #expect(batched.invocations == 3)
    #expect(single.invocations == 150)
    let targets = Set(single.outcomes.compactMap(\.redirect))
    #expect(targets.count > 1)
    // Independent check of the verdicts from the packet lengths.
    for (packet, outcome) in zip(packets, single.outcomes) {
      let expected: XDPAction =
        packet.count < 100 ? .drop : packet.count % 2 == 1 ? .redirect : .pass
      #expect(outcome.action == expected)
      #expect(outcome.output == packet)
      if expected == .redirect {
        #expect(outcome.redirect == .interface(UInt32(packet.count & 7) + 1))
      }
    }
  }

  @Test func verdictsAboveFourCountAsAborted() throws {
    let packets = [[UInt8](repeating: 0, count: 60), [UInt8](repeating: 0, count: 1000)]
    let result = try report([.move(.r0, immediate: 7), .exit], .perPacket, packets)
    #expect(result.totals[.aborted] == ActionCount(packets: 2, bytes: 1060))
    #expect(result.outcomes.map(\.returnValue) == [7, 7])
    #expect(result.totals[.pass].packets == 0)
  }

  @Test func outputFollowsHeadAndTailAdjustments() throws {
    let program: [Instruction] = [
      .move(.r6, .r1), .move(.r2, immediate: 14), .helper(.xdpAdjustHead),
      .move(.r1, .r6), .move(.r2, immediate: -10), .helper(.xdpAdjustTail),
      .move(.r0, immediate: 3), .exit,
    ]
    let packet = (0..<100).map { UInt8($0) }
    let result = try report(program, .perPacket, [packet])
    #expect(result.outcomes[0].output == Array(packet[14..<90]))
    #expect(result.totals[.tx] == ActionCount(packets: 1, bytes: 76))
  }

  @Test func batchMustReportEveryRecord() {
    #expect(throws: RunError.batchIncomplete(packet: 0, processed: 0, expected: 3)) {
      try report(
        [.move(.r0, immediate: 0), .exit], .batch, [[UInt8]](repeating: [1], count: 3))
    }
  }

  @Test func oversizedPacketsAreRefused() {
    #expect(throws: RunError.packetTooLarge(packet: 1, size: 4000, limit: 3520)) {
      try report(
        [.move(.r0, immediate: 2), .exit], .perPacket, [[0], [UInt8](repeating: 0, count: 4000)])
    }
  }

  @Test func tailCallsAreRefusedInBatchMode() throws {
    let programs = MapDefinition(
      name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 1)
    let machine = try Machine(maps: [programs])
    let program = try machine.prepare(
      instructions: Instruction.map(.r2, 0) + [.move(.r3, immediate: 0), .helper(.tailCall), .exit])
    let runner = try PacketRunner(machine: machine, program: program, form: .batch, batchSize: 8)
    do {
      _ = try runner.run([[1, 2, 3]])
      Issue.record("expected an error")
    } catch {
      #expect(error.description.contains("batch mode"))
      #expect(error.description.contains("instruction 3"))
    }
  }
}
