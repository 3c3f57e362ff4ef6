import BPF
import Frames
import Rewriter
import TestSupport
import Testing

@testable import Engine

/// Issue 22: the xdp_redirect_map sample (a PERCPU_ARRAY count and a
/// DEVMAP redirect per packet) runs in the JIT without a call into Swift
/// in both forms, with the interpreter's verdicts, redirect targets and
/// counts (before, one call per packet for `redirect_map`).
struct RedirectMapSampleTests {
  @Test(arguments: [Form.perPacket, .batch])
  func redirectMapRunsWithoutCallingSwift(_ form: Form) throws {
    let object = try BPFObject(contentsOf: PackageLayout.sample("xdp_redirect_map"))
    let program = try object.program(named: "xdp_redirect_map_prog")
    let code = form == .batch ? try BatchTrampoline().rewrite(program).program : program
    var generator = FrameGenerator(seed: 25)
    let frames = generator.frames(2_000)
    var reports: [EngineKind: RunReport] = [:]
    var contents: [EngineKind: MapContents] = [:]
    for engine in EngineKind.allCases {
      let machine = try Machine(
        maps: object.maps, configuration: MachineConfiguration(engine: engine))
      // Entries 0 and 2 (interfaces 100 and 102): key 1 misses (XDP_PASS).
      machine.seedDeviceMaps()
      let runner = try PacketRunner(
        machine: machine, program: try machine.prepare(code, form: form), form: form)
      reports[engine] = try runner.run(frames)
      contents[engine] = MapContents(machine)
      if engine == .jit {
        #expect(machine.engineFallback == nil)
        #expect(machine.jit.swiftCalls == 0, "\(form)")
      }
    }
    let compiled = try #require(reports[.jit])
    #expect(compiled.outcomes == reports[.interpreter]?.outcomes)
    #expect(contents[.jit] == contents[.interpreter])
    let redirected = compiled.outcomes.filter { $0.action == .redirect }
    let passed = compiled.outcomes.filter { $0.action == .pass }
    #expect(redirected.count > 500 && passed.count > 500, "both the hit and the miss")
    #expect(Set(redirected.compactMap(\.redirect)) == [.device(map: 1, key: 0, interface: 100)])
  }
}
