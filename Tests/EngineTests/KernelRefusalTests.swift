import BPF
import Engine
import Testing

/// What the kernel's verifier refuses in an XDP program by its
/// instructions alone, the engine refuses when it prepares one, with the
/// instruction index and the verifier's words; bare instruction sequences
/// (conformance runs) keep the whole instruction set.
@Suite("The engine refuses what the kernel refuses in XDP programs")
struct KernelRefusalTests {
  static func xdp(_ instructions: [Instruction]) -> Program {
    Program(name: "refused", sectionName: "xdp", instructions: instructions)
  }

  static func refusal(
    _ instructions: [Instruction], maps: [MapDefinition] = [], form: Form = .perPacket
  ) throws -> PreparationError? {
    let machine = try Machine(maps: maps)
    do {
      _ = try machine.prepare(xdp(instructions), form: form)
      return nil
    } catch {
      return error
    }
  }

  static let legacyLoads: [(String, Instruction)] = [
    ("ld_abs", Instruction(opcode: 0x30, immediate: 12)),
    ("ld_ind", Instruction(opcode: 0x48, src: .r6, immediate: 2)),
  ]

  /// Regression (issue 23): the engine ran `ld_abs`/`ld_ind` in XDP
  /// programs, which the kernel refuses, and `check` then reported
  /// thousands of mismatches for their batch form.
  @Test func legacyPacketLoadsAreRefused() throws {
    for (name, load) in Self.legacyLoads {
      let error = try Self.refusal([.move(.r6, immediate: 0), load, .exit])
      #expect(
        error
          == .refusedByVerifier(
            VerifierRefusal(
              index: 1,
              reason: "BPF_LD_[ABS|IND] instructions not allowed for this program type")),
        "\(name)")
      #expect(
        error?.description
          == "instruction 1: the kernel refuses this in an XDP program: "
          + "BPF_LD_[ABS|IND] instructions not allowed for this program type")
    }
  }

  @Test func callxIsRefused() throws {
    let callx = Instruction(opcode: Opcode.callRegister, dst: .r2)
    #expect(
      try Self.refusal([.move(.r2, immediate: 7), callx, .exit])
        == .refusedByVerifier(VerifierRefusal(index: 1, reason: "BPF_CALL uses reserved fields")))
  }

  @Test func helperIdsTheKernelDoesNotHaveAreRefused() throws {
    for id: Int32 in [-1, 212, 9999, HelperFunction.commitRedirect.rawValue] {
      #expect(
        try Self.refusal([.call(helper: id), .exit])
          == .refusedByVerifier(VerifierRefusal(index: 0, reason: "invalid func unknown#\(id)")))
    }
    // An id the kernel has but the engine does not implement (bpf_skb_load_bytes).
    let error = try Self.refusal([.call(helper: 26), .exit])
    #expect(error == .unknownHelper(index: 0, helper: 26))
    #expect(error?.description == "instruction 0: the engine does not implement helper helper#26")
    // The batch form may call the engine's own commit step.
    #expect(
      try Self.refusal(
        [.call(helper: HelperFunction.commitRedirect.rawValue), .exit], form: .batch) == nil)
  }

  @Test func mapValueOffsetsOutsideTheValueAreRefused() throws {
    let data = MapDefinition(name: ".data", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)
    func load(offset: Int32) -> [Instruction] {
      var slots = Instruction.loadImmediate64(.r0, 0, kind: .mapValueByIndex)
      slots[1].immediate = offset
      return slots + [.exit]
    }
    #expect(try Self.refusal(load(offset: 4), maps: [data]) == nil)
    for offset: Int32 in [8, -1, Int32.min] {
      #expect(
        try Self.refusal(load(offset: offset), maps: [data])
          == .refusedByVerifier(
            VerifierRefusal(
              index: 0,
              reason:
                "invalid access to map value pointer, value_size=8 off=\(UInt32(bitPattern: offset))"
            )))
    }
  }

  @Test func bareInstructionSequencesKeepTheWholeInstructionSet() throws {
    let machine = try Machine()
    for (_, load) in Self.legacyLoads {
      _ = try machine.prepare(instructions: [.move(.r6, immediate: 0), load, .exit])
    }
    _ = try machine.prepare(
      instructions: [
        .move(.r2, immediate: 7), Instruction(opcode: Opcode.callRegister, dst: .r2), .exit,
      ])
  }

  /// Regression (issue 23): an unsupported map type read "type type 37 is
  /// not supported".
  @Test func unsupportedMapTypesAreNamedOnce() {
    let unknown = MapDefinition(
      name: "m", type: MapType(rawValue: 37), keySize: 4, valueSize: 4, maxEntries: 1)
    let ringbuf = MapDefinition(
      name: "events", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096)
    #expect(throws: MachineError.unsupportedMap(name: "m", type: MapType(rawValue: 37))) {
      _ = try Machine(maps: [unknown])
    }
    #expect(
      MachineError.unsupportedMap(name: "m", type: MapType(rawValue: 37)).description
        == "map m: type 37 is not supported by the engine")
    #expect(
      MachineError.unsupportedMap(name: "events", type: .ringbuf).description
        == "map events: type ringbuf is not supported by the engine")
    _ = ringbuf
  }
}
