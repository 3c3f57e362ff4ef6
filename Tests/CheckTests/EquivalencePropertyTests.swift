import BPF
import Check
import Engine
import Frames
import Rewriter
import Testing

/// Randomly generated well-formed XDP programs behave the same per packet
/// and in all six batch forms, those that pass a frame pointer to a
/// subprogram included: the rewriter follows the pointer into the callee
/// (per call site, as the verifier bounds its reach).
struct EquivalencePropertyTests {
  static let programs = 300
  static let packets = 300

  @Test func generatedProgramsStayEquivalent() throws {
    var generator = ProgramGenerator(seed: 0xc0ffee)
    var exits = 0
    var checked = 0
    var passingFramePointers = 0
    for number in 0..<Self.programs {
      let program = generator.program(number)
      exits += StackFrameAnalysis(program).mainExits.count
      let result = try EquivalenceCheck(packets: Self.packets, seed: UInt64(number) + 1)
        .run(program, maps: ProgramGenerator.maps)
      if program.passesFramePointer { passingFramePointers += 1 }
      for outcome in result.variants {
        #expect(
          outcome.refusal == nil,
          "\(program.name) \(outcome.variant): \(String(describing: outcome.refusal))")
        #expect(
          outcome.mismatches == 0,
          "\(program.name) \(outcome.variant): \(String(describing: outcome.firstDifference))")
        if outcome.refusal == nil { checked += outcome.packets }
      }
    }
    #expect(checked == Self.programs * Self.packets * BatchVariant.all.count)
    #expect(passingFramePointers > 0 && passingFramePointers < Self.programs / 5)
    #expect(exits > Self.programs * 2, "the generator should give most programs several exits")
  }

  /// The generated programs reach what they are meant to: every verdict,
  /// redirect targets, and map writes.
  @Test func generatedProgramsCoverTheirFeatures() throws {
    var generator = ProgramGenerator(seed: 0xc0ffee)
    var actions = ActionCounts()
    var redirects = 0
    var deepFrames = 0
    for number in 0..<60 {
      let program = generator.program(number)
      if StackFrameAnalysis(program).stackDepth > 128 { deepFrames += 1 }
      let machine = try Machine(maps: ProgramGenerator.maps)
      machine.seedDeviceMaps()
      let runner = try PacketRunner(
        machine: machine, program: machine.prepare(program), form: .perPacket)
      var frames = FrameGenerator(seed: UInt64(number) + 1)
      let report = try runner.run(frames.frames(Self.packets))
      actions.add(report.totals)
      redirects += report.outcomes.filter { $0.redirect != nil }.count
    }
    for action in XDPAction.allCases { #expect(actions[action].packets > 0, "\(action)") }
    #expect(redirects > 0)
    #expect(deepFrames > 0)
  }
}
