import BPF
import Engine
import Foundation
import Frames
import Rewriter
import Testing

/// The JIT against the interpreter: the same verdicts, output bytes,
/// redirect targets, return values, instruction counts and maps, on the
/// random program generator's programs and on every bundled sample.
@Suite struct EngineDifferentialTests {
  /// What one engine did with a program over a list of frames.
  struct Trace: Equatable {
    var outcomes: [PacketOutcome]
    var instructions: Int
    var maps: MapContents
    var error: String?
  }

  static func trace(
    _ program: Program, maps: [MapDefinition], frames: [[UInt8]], engine: EngineKind,
    form: Form = .perPacket, prepare: (Machine) throws -> Void = { _ in }
  ) throws -> Trace {
    let machine = try Machine(maps: maps, configuration: MachineConfiguration(engine: engine))
    try prepare(machine)
    let runner = try PacketRunner(
      machine: machine, program: try machine.prepare(program, form: form), form: form)
    do {
      let report = try runner.run(frames)
      if engine == .jit { #expect(machine.engineFallback == nil) }
      return Trace(
        outcomes: report.outcomes, instructions: report.instructions, maps: MapContents(machine),
        error: nil)
    } catch {
      return Trace(outcomes: [], instructions: 0, maps: MapContents(machine), error: "\(error)")
    }
  }

  @Test func generatedProgramsRunAlikeInBothEngines() throws {
    var generator = ProgramGenerator(seed: 0x0d1f_f)
    var frames = FrameGenerator(seed: 7)
    let count = 2000
    var compared = 0
    for number in 0..<count {
      let program = generator.program(number)
      let packets = frames.frames(8)
      let interpreted = try Self.trace(
        program, maps: ProgramGenerator.maps, frames: packets, engine: .interpreter)
      let compiled = try Self.trace(
        program, maps: ProgramGenerator.maps, frames: packets, engine: .jit)
      #expect(compiled == interpreted, "\(program.name)")
      compared += interpreted.outcomes.count
    }
    #expect(compared > count * 4, "most generated programs should run every frame")
  }

  @Test func everySampleIsCompiled() throws { try Samples.expectEveryOneCompiled() }

  /// Every sample in both engines, per packet and, where the rewriter
  /// transforms it, in its batch form: what the JIT inlines (the
  /// epilogue's redirect commit, `redirect`, array lookups) gives the
  /// interpreter's verdicts, redirect targets, instruction counts and maps.
  @Test(arguments: Samples.all)
  func samplesRunAlikeInBothEngines(_ sample: URL) throws {
    let object = try BPFObject(contentsOf: sample.path)
    var frames = FrameGenerator(seed: 0x5a3d)
    let packets = frames.frames(3000)
    for program in try object.programs() {
      var forms: [(Program, Form)] = [(program, .perPacket)]
      // A tail call cannot run in a batch (the rewriter refuses it).
      if !program.instructions.contains(where: {
        $0.isHelperCall && $0.immediate == HelperFunction.tailCall.rawValue
      }) {
        forms.append((try BatchTrampoline().rewrite(program).program, .batch))
      }
      for (code, form) in forms {
        let interpreted = try Self.trace(
          code, maps: object.maps, frames: packets, engine: .interpreter, form: form)
        let compiled = try Self.trace(
          code, maps: object.maps, frames: packets, engine: .jit, form: form)
        #expect(interpreted.error == nil, "\(program.name) \(form): \(interpreted.error ?? "")")
        #expect(interpreted.outcomes.count == packets.count)
        #expect(compiled == interpreted, "\(sample.lastPathComponent) \(program.name) \(form)")
      }
    }
  }
}
