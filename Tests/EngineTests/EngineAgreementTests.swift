import BPF
import Engine
import Testing

/// Programs the JIT and the interpreter used to disagree on (issue 23,
/// found by hand and by a differential run of generated programs).
@Suite("The engines agree where they used to differ")
struct EngineAgreementRegressionTests {
  /// `ld_ind` indexed by R6: the JIT's callback read R6 from the register
  /// file, which the JIT had not written (interpreter 0x22, JIT 0).
  @Test func legacyLoadIndexedByACalleeSavedRegister() throws {
    let program: [UInt8] = [
      0xb7, 0x06, 0, 0, 0x02, 0, 0, 0, 0x50, 0x60, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
    ]
    let instructions = try Instruction.decode(littleEndian: program)
    for engine in EngineKind.allCases {
      #expect(
        try ConformanceRun.execute(instructions, memory: [0x00, 0x11, 0x22, 0x33], engine: engine)
          == 0x22, "\(engine)")
    }
    // Every index register, R1 (the memory) aside.
    for index in [Register.r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9] {
      let load = [
        .move(index, immediate: 1), Instruction(opcode: 0x48, src: index, immediate: 1), .exit,
      ]
      for engine in EngineKind.allCases {
        #expect(
          try ConformanceRun.execute(load, memory: [0x00, 0x11, 0x22, 0x33], engine: engine)
            == 0x2233, "\(index) \(engine)")
      }
    }
  }

  /// An atomic whose source is R10 inside a subprogram: the JIT's callback
  /// read the register file's R10, the main frame's, not the callee's.
  @Test func atomicWithTheFramePointerInASubprogram() throws {
    let program: [Instruction] = [
      .move(.r6, .r1), .call(local: 2), .load(.doubleWord, .r0, from: .r6, offset: 0), .exit,
      // The subprogram: *(u64 *)(r1 + 0) += r10.
      Instruction(
        opcode: Opcode.memory(.stx, .atomic, .doubleWord), dst: .r1, src: .r10,
        immediate: AtomicOperation.add.rawValue),
      .exit,
    ]
    var results: [UInt64] = []
    for engine in EngineKind.allCases {
      let machine = try Machine(configuration: MachineConfiguration(engine: engine))
      let prepared = try machine.prepare(instructions: program)
      let memory = try machine.addressSpace.map(length: 8, name: "memory")
      let frame = try #require(machine.addressSpace.regions.first { $0.name == "stack frame 1" })
      #expect(try machine.run(prepared, r1: UInt64(memory.start)) == UInt64(frame.end), "\(engine)")
      results.append(try machine.run(prepared, r1: UInt64(memory.start)))
    }
    #expect(Set(results).count == 1)
  }
}
