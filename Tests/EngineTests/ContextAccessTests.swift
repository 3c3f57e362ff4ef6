import BPF
import Engine
import Testing

/// Programs that write their XDP context, or reach past their record
/// through a moved context pointer, are refused when they are prepared,
/// with the instruction and the verifier's words; programs that only
/// read their fields are not.
struct ContextAccessTests {
  static func program(_ instructions: [Instruction]) -> Program {
    Program(name: "forger", sectionName: "xdp", instructions: instructions)
  }

  /// The refusal `Machine.prepare` gives, as text.
  static func refusal(_ instructions: [Instruction], form: Form = .perPacket) throws -> String? {
    let machine = try Machine(maps: [
      MapDefinition(
        name: "values", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)
    ])
    do {
      _ = try machine.prepare(program(instructions), form: form)
      return nil
    } catch {
      return error.description
    }
  }

  static let prefix = "the kernel refuses this in an XDP program: "

  /// A word stored into `data`, `data_end` and `data_meta` (offsets 0, 4, 8).
  @Test(arguments: [(Int16(0), "data"), (4, "data_end"), (8, "data_meta")])
  func storesIntoTheContextAreRefused(offset: Int16, field: String) throws {
    let register: [Instruction] = [
      .move(.r2, immediate: 64),
      .store(.word, .r2, to: .r1, offset: offset),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(
      try Self.refusal(register)
        == "instruction 1: \(Self.prefix)invalid bpf_context access off=\(offset) size=4",
      "\(field)")
    let immediate: [Instruction] = [
      .store(.word, immediate: 0, to: .r1, offset: offset), .move(.r0, immediate: 2), .exit,
    ]
    #expect(
      try Self.refusal(immediate)
        == "instruction 0: \(Self.prefix)invalid bpf_context access off=\(offset) size=4")
  }

  @Test func anAtomicAddToTheContextIsRefused() throws {
    let atomic = Instruction(
      opcode: Opcode.memory(.stx, .atomic, .word), dst: .r1, src: .r2, offset: 4,
      immediate: AtomicOperation.add.rawValue)
    #expect(
      try Self.refusal([.move(.r2, immediate: 8), atomic, .move(.r0, immediate: 2), .exit])
        == "instruction 1: \(Self.prefix)BPF_ATOMIC stores into R1 ctx is not allowed")
  }

  /// The pointer followed through a copy, a stack spill and fill, and on
  /// one branch only.
  @Test func theContextPointerIsFollowedThroughCopiesSpillsAndBranches() throws {
    let copied: [Instruction] = [
      .move(.r6, .r1), .move(.r1, immediate: 0),
      .store(.word, immediate: 1, to: .r6, offset: 4),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(
      try Self.refusal(copied)
        == "instruction 2: \(Self.prefix)invalid bpf_context access off=4 size=4")
    let spilled: [Instruction] = [
      .store(.doubleWord, .r1, to: .r10, offset: -16),
      .move(.r1, immediate: 0),
      .load(.doubleWord, .r3, from: .r10, offset: -16),
      .store(.word, .r1, to: .r3, offset: 8),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(
      try Self.refusal(spilled)
        == "instruction 3: \(Self.prefix)invalid bpf_context access off=8 size=4")
    // R2 is the context on the taken branch only: the kernel follows that
    // path and refuses; so does the engine.
    let branch: [Instruction] = [
      .load(.word, .r3, from: .r1, offset: 16),
      .move(.r2, .r10),
      .add(.r2, immediate: -8),
      .jump(.jeq, .r3, immediate: 0, offset: 1),
      .move(.r2, .r1),
      .store(.word, immediate: 0, to: .r2, offset: 0),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(
      try Self.refusal(branch)
        == "instruction 5: \(Self.prefix)invalid bpf_context access off=0 size=4")
  }

  /// A bpf-to-bpf callee that writes the context it was handed.
  @Test func aCalleeWritingItsArgumentIsRefused() throws {
    let instructions: [Instruction] = [
      .call(local: 2),
      .move(.r0, immediate: 2),
      .exit,
      .store(.word, immediate: 0, to: .r1, offset: 4),
      .move(.r0, immediate: 0),
      .exit,
    ]
    #expect(
      try Self.refusal(instructions)
        == "instruction 3: \(Self.prefix)invalid bpf_context access off=4 size=4")
  }

  /// Reaching the next record (another frame's bounds) through a moved
  /// context pointer, for reading as for writing.
  @Test func aMovedContextPointerIsRefused() throws {
    let read: [Instruction] = [
      .add(.r1, immediate: 32),
      .load(.word, .r2, from: .r1, offset: 0),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(
      try Self.refusal(read)
        == "instruction 1: \(Self.prefix)dereference of modified ctx ptr R1 off=32 disallowed")
    let variable: [Instruction] = [
      .load(.word, .r2, from: .r1, offset: 16),
      .move(.r3, .r1),
      .arithmetic(.add, .r3, .r2),
      .load(.word, .r0, from: .r3, offset: 0),
      .exit,
    ]
    #expect(
      try Self.refusal(variable)
        == "instruction 3: \(Self.prefix)variable ctx access var_off=(unknown) disallowed")
  }

  /// Reading every field, writing the packet and the stack, calling
  /// helpers with the context: accepted, per packet and in batch form.
  @Test func readingTheContextIsAccepted() throws {
    let instructions: [Instruction] = [
      .move(.r6, .r1),
      .store(.doubleWord, .r1, to: .r10, offset: -8),
      .load(.word, .r2, from: .r1, offset: 0),
      .load(.word, .r3, from: .r1, offset: 4),
      .load(.word, .r4, from: .r1, offset: 8),
      .load(.word, .r5, from: .r1, offset: 12),
      .move(.r5, .r2), .add(.r5, immediate: 1),
      .jump(.jgt, .r5, .r3, offset: 1),
      .store(.byte, immediate: 7, to: .r2, offset: 0),
      .load(.doubleWord, .r1, from: .r10, offset: -8),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.xdpAdjustHead.rawValue),
      .load(.word, .r0, from: .r6, offset: 16),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(try Self.refusal(instructions) == nil)
    #expect(try Self.refusal(instructions, form: .batch) == nil)
  }

  /// The batch form steps its context pointer by the record stride and
  /// stores each verdict past `struct xdp_md`: allowed there, refused per
  /// packet (the kernel's `xdp_md` ends at 24).
  @Test func theBatchEpiloguesStoresAreTheBatchFormsOnly() throws {
    let epilogue: [Instruction] = [
      .move(.r6, .r1),
      .move(.r0, immediate: 2),
      .store(.word, .r0, to: .r6, offset: 24),
      .add(.r6, immediate: 32),
      .store(.word, .r0, to: .r6, offset: 24),
      .load(.word, .r2, from: .r6, offset: 0),
      .exit,
    ]
    #expect(try Self.refusal(epilogue, form: .batch) == nil)
    #expect(
      try Self.refusal(epilogue)
        == "instruction 2: \(Self.prefix)invalid bpf_context access off=24 size=4")
    var forged = epilogue
    forged[4] = .store(.word, .r0, to: .r6, offset: 4)
    #expect(
      try Self.refusal(forged, form: .batch)
        == "instruction 4: \(Self.prefix)invalid bpf_context access off=4 size=4")
  }
}
