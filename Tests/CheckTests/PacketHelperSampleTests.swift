import BPF
import Frames
import Rewriter
import TestSupport
import Testing

@testable import Engine

/// Issue 22: the programs whose helpers are the packet helpers
/// (xdp_stack_helper: `xdp_load_bytes` and `csum_diff`; corpus_adjust:
/// `xdp_adjust_head`/`_tail`/`_meta`) run in the JIT without a call into
/// Swift per packet in both forms, with the interpreter's verdicts, bytes,
/// metadata and maps (before: one call per helper per packet).
struct PacketHelperSampleTests {
  struct Case: CustomTestStringConvertible, Sendable {
    var path: String
    var program: String
    /// The most calls into Swift over the run: xdp_stack_helper inserts
    /// each new bucket (64 at most) with `map_update_elem`, still in Swift.
    var calls: Int
    var testDescription: String { program }
  }

  static let cases = [
    Case(
      path: PackageLayout.sample("xdp_stack_helper"), program: "xdp_stack_helper_prog", calls: 64),
    Case(path: PackageLayout.corpus("corpus_adjust"), program: "corpus_adjust_early", calls: 0),
  ]

  @Test(arguments: cases, [Form.perPacket, .batch])
  func packetHelpersRunWithoutCallingSwift(_ sample: Case, _ form: Form) throws {
    let object = try BPFObject(contentsOf: sample.path)
    let program = try object.program(named: sample.program)
    let code = form == .batch ? try BatchTrampoline().rewrite(program).program : program
    var generator = FrameGenerator(seed: 22)
    let frames = generator.frames(2_000)
    var reports: [EngineKind: RunReport] = [:]
    var contents: [EngineKind: MapContents] = [:]
    for engine in EngineKind.allCases {
      let machine = try Machine(
        maps: object.maps, configuration: MachineConfiguration(engine: engine))
      let runner = try PacketRunner(
        machine: machine, program: try machine.prepare(code, form: form), form: form)
      reports[engine] = try runner.run(frames)
      contents[engine] = MapContents(machine)
      if engine == .jit {
        #expect(machine.engineFallback == nil)
        #expect(machine.jit.swiftCalls <= sample.calls, "\(form)")
      }
    }
    let compiled = try #require(reports[.jit])
    #expect(compiled.outcomes == reports[.interpreter]?.outcomes)
    #expect(compiled.instructions == reports[.interpreter]?.instructions)
    #expect(contents[.jit] == contents[.interpreter])
    #expect(Set(compiled.outcomes.map(\.action)).count >= 2, "more than one verdict")
  }
}
