import BPF
import Check
import Frames
import Rewriter
import TestSupport
import Testing

@testable import Engine

/// Issue 22: the batch epilogue commits a redirect target only after an
/// XDP_REDIRECT verdict where the redirect helper's result is the return
/// value, and after every record where a target can be pending under
/// another verdict. Either way each packet gets the per-packet form's
/// verdict and redirect target.
struct RedirectCommitTests {
  /// Loads the last byte of the destination MAC into R4 (random in the
  /// generated frames); frames shorter than 6 bytes pass.
  static let prologue: [Instruction] = [
    .load(.word, .r2, from: .r1, offset: 0),
    .load(.word, .r3, from: .r1, offset: 4),
    .move(.r4, .r2),
    .add(.r4, immediate: 6),
  ]

  /// Odd byte: `return bpf_redirect(byte, 0)`; else XDP_PASS.
  static let returnsRedirect = Program(
    name: "returns_redirect", sectionName: "xdp",
    instructions: prologue + [
      .jump(.jgt, .r4, .r3, offset: 8),
      .load(.byte, .r4, from: .r2, offset: 5),
      .move(.r5, .r4),
      .arithmetic(.and, .r5, immediate: 1),
      .jump(.jeq, .r5, immediate: 0, offset: 4),
      .move(.r1, .r4),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.redirect.rawValue),
      .exit,
      .move(.r0, immediate: 2),
      .exit,
    ])

  /// `returnsRedirect` with the result kept in R6 and returned as `w0 =
  /// w6`, as clang compiles xdp_classify.
  static let returnsRedirectThroughMoves = Program(
    name: "returns_redirect_through_moves", sectionName: "xdp",
    instructions: prologue + [
      .jump(.jgt, .r4, .r3, offset: 10),
      .load(.byte, .r4, from: .r2, offset: 5),
      .move(.r5, .r4),
      .arithmetic(.and, .r5, immediate: 1),
      .jump(.jeq, .r5, immediate: 0, offset: 6),
      .move(.r1, .r4),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.redirect.rawValue),
      .move(.r6, .r0),
      .arithmetic(.mov, .r0, .r6, wide: false),
      .exit,
      .move(.r0, immediate: 2),
      .exit,
    ])

  /// Like it, but R0 is overwritten from a register that does not hold the
  /// result: odd byte: sets a target, then returns the byte's bit 2
  /// (XDP_ABORTED or XDP_REDIRECT), so a target stays pending after an
  /// ABORTED verdict; else XDP_PASS.
  static let returnsAnotherRegister = Program(
    name: "returns_another_register", sectionName: "xdp",
    instructions: prologue + [
      .jump(.jgt, .r4, .r3, offset: 11),
      .load(.byte, .r4, from: .r2, offset: 5),
      .move(.r5, .r4),
      .arithmetic(.and, .r5, immediate: 1),
      .jump(.jeq, .r5, immediate: 0, offset: 7),
      .move(.r1, .r4),
      .move(.r2, immediate: 0),
      .move(.r6, .r4),
      .call(helper: HelperFunction.redirect.rawValue),
      .move(.r0, .r6),
      .arithmetic(.and, .r0, immediate: 4),
      .exit,
      .move(.r0, immediate: 2),
      .exit,
    ])

  /// Odd byte: sets a target with `bpf_redirect`, then returns XDP_PASS
  /// (the target stays pending); byte with bit 1 set: XDP_REDIRECT without
  /// a target (the per-packet form has none); else XDP_PASS. A commit
  /// skipped after the PASS would hand the pending target to the next
  /// REDIRECT record.
  static let leavesTargetPending = Program(
    name: "leaves_target_pending", sectionName: "xdp",
    instructions: prologue + [
      .jump(.jgt, .r4, .r3, offset: 13),
      .load(.byte, .r4, from: .r2, offset: 5),
      .move(.r5, .r4),
      .arithmetic(.and, .r5, immediate: 1),
      .jump(.jeq, .r5, immediate: 0, offset: 5),
      .move(.r1, .r4),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.redirect.rawValue),
      .move(.r0, immediate: 2),
      .exit,
      .arithmetic(.and, .r4, immediate: 2),
      .jump(.jeq, .r4, immediate: 0, offset: 2),
      .move(.r0, immediate: 4),
      .exit,
      .move(.r0, immediate: 2),
      .exit,
    ])

  @Test(arguments: [
    returnsRedirect, returnsRedirectThroughMoves, returnsAnotherRegister, leavesTargetPending,
  ])
  func everyVariantGivesEachPacketItsTarget(_ program: Program) throws {
    let result = try EquivalenceCheck(packets: 3_000, seed: 22).run(program, maps: [])
    // Both verdicts occur, so records of either kind follow each other.
    #expect(result.actions[.redirect].packets > 300, "\(result.actions)")
    #expect(result.actions[.pass].packets > 300, "\(result.actions)")
    #expect(result.variants.count == BatchVariant.all.count)
    for outcome in result.variants {
      #expect(outcome.refusal == nil, "\(outcome.variant): \(String(describing: outcome.refusal))")
      #expect(outcome.packets == 3_000)
      #expect(
        outcome.mismatches == 0,
        "\(program.name) \(outcome.variant): \(String(describing: outcome.firstDifference))")
    }
  }

  @Test func onlyTheReturnedRedirectSkipsTheCommit() throws {
    func commitIsConditional(_ program: Program) throws -> Bool {
      let batch = try BatchTrampoline().rewrite(program)
      let epilogue = Array(batch.program.instructions[batch.layout.epilogue])
      let commit = try #require(
        epilogue.firstIndex(of: .call(helper: HelperFunction.commitRedirect.rawValue)))
      return epilogue[..<commit].contains { $0.isBranch }
    }
    #expect(try commitIsConditional(Self.returnsRedirect))
    #expect(try commitIsConditional(Self.returnsRedirectThroughMoves))
    #expect(try !commitIsConditional(Self.returnsAnotherRegister))
    #expect(try !commitIsConditional(Self.leavesTargetPending))
    // xdp_classify returns its `bpf_redirect` result through R6.
    let classify = try BPFObject(contentsOf: PackageLayout.sample("xdp_classify"))
    #expect(try commitIsConditional(classify.program(named: "xdp_classify_prog")))
  }

  /// The batch form's redirects and commits run inline in the JIT: no
  /// call into Swift on any packet (before, one for each `redirect` and
  /// one for each commit: 3,000+ on these frames), with the interpreter's
  /// verdicts and committed targets.
  @Test(arguments: [returnsRedirect, leavesTargetPending])
  func theJITCommitsRedirectsWithoutCallingSwift(_ program: Program) throws {
    let batch = try BatchTrampoline().rewrite(program).program
    var generator = FrameGenerator(seed: 22)
    let frames = generator.frames(2_000)
    var reports: [EngineKind: RunReport] = [:]
    for engine in EngineKind.allCases {
      let machine = try Machine(configuration: MachineConfiguration(engine: engine))
      let runner = try PacketRunner(
        machine: machine, program: try machine.prepare(batch, form: .batch), form: .batch)
      reports[engine] = try runner.run(frames)
      if engine == .jit {
        #expect(machine.engineFallback == nil)
        #expect(machine.jit.swiftCalls == 0, "\(program.name)")
      }
    }
    let compiled = try #require(reports[.jit])
    let interpreted = try #require(reports[.interpreter])
    #expect(compiled.outcomes == interpreted.outcomes)
    #expect(compiled.instructions == interpreted.instructions)
    let redirected = compiled.outcomes.filter { $0.action == .redirect }
    #expect(redirected.count > 300)
    // leaves_target_pending's REDIRECT verdicts have no target (its
    // targets are set before a PASS).
    #expect(redirected.contains { $0.redirect != nil } == (program.name == "returns_redirect"))
  }

  /// A commit whose R1 is no record of the batch being run takes the call
  /// into Swift, which refuses it as before, in both engines alike.
  @Test func aCommitOutsideTheBatchIsRefusedInBothEngines() throws {
    let program = Program(
      name: "stray_commit", sectionName: "xdp",
      instructions: [
        .add(.r1, immediate: 4),
        .call(helper: HelperFunction.commitRedirect.rawValue),
        .move(.r0, immediate: 2),
        .exit,
      ])
    var errors: [String] = []
    for engine in EngineKind.allCases {
      let machine = try Machine(configuration: MachineConfiguration(engine: engine))
      let runner = try PacketRunner(
        machine: machine, program: try machine.prepare(program, form: .batch), form: .batch)
      do {
        _ = try runner.run([[UInt8](repeating: 1, count: 60)])
        Issue.record("\(engine): the stray commit ran")
      } catch {
        errors.append("\(error)")
      }
    }
    #expect(errors.count == 2)
    #expect(Set(errors).count == 1, "\(errors)")
    #expect(errors.first?.contains("R1 is not a batch context record") == true, "\(errors)")
  }
}
