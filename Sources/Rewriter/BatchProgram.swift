import BPF

/// A batch program and what the rewrite added: the result of
/// ``BatchTrampoline/rewrite(_:)``.
///
/// The program takes R1 = the first context record and (for the `count`
/// and `end-pointer` bounds) R2 = the number of records; it stores each
/// verdict in the record's action field and returns how many records it
/// processed.
public struct BatchProgram: Hashable, Sendable {
  /// The rewritten program (same name, section and map table).
  public var program: Program
  /// The numbers `xdpbatch rewrite --json` reports.
  public var summary: BatchSummary
  /// For each instruction of the input, where it is now (nil: removed,
  /// which happens only to the main program's last `exit`).
  public var originalLocations: [Int?]
  /// The slots of the rewritten program's own code.
  public var layout: Layout

  /// Where the trampoline's pieces lie in ``program``.
  public struct Layout: Hashable, Sendable {
    /// The prologue (runs once).
    public var prologue: Range<Int>
    /// The per-record head before the body (the `immediate` bound's skip
    /// of padding records; empty otherwise).
    public var head: Range<Int>
    /// The per-packet epilogue, ending with the loop's back edge.
    public var epilogue: Range<Int>
    /// The code after the loop that returns the record count (runs once).
    public var tail: Range<Int>
    /// Stack offsets (from R10) of the values the loop keeps.
    public var slots: TrampolineSlots
  }
}

/// What a batch rewrite cost, in the words of `xdpbatch rewrite --json`.
public struct BatchSummary: Hashable, Sendable, Codable {
  /// The program's name.
  public var program: String
  /// `shift` or `reserve`.
  public var strategy: String
  /// `immediate`, `count` or `end-pointer`.
  public var bound: String
  /// Instruction slots before the rewrite.
  public var instructionsBefore: Int
  /// Instruction slots after the rewrite.
  public var instructionsAfter: Int
  /// Instructions that run once a batch (prologue and final return).
  public var addedOnce: Int
  /// Instructions that run once a packet: the head and the epilogue, plus any pointer
  /// adjustments `shift` had to insert (each counted once). Exits replaced
  /// by a jump to the epilogue are not counted: they ran anyway.
  public var addedPerPacket: Int
  /// Bytes of stack the rewritten main frame uses.
  public var stackBytes: Int
  /// The callee-saved registers the loop keeps its values in, as
  /// `rN`: the cursor's first, then the bound's (``TrampolineSlots``);
  /// empty when the program names all of R6 - R9 and the loop keeps its
  /// values on the stack (loaded and stored every packet).
  public var loopRegisters: [String] = []

  enum CodingKeys: String, CodingKey {
    case program, strategy, bound
    case instructionsBefore = "instructions_before"
    case instructionsAfter = "instructions_after"
    case addedOnce = "added_once"
    case addedPerPacket = "added_per_packet"
    case stackBytes = "stack_bytes"
    case loopRegisters = "loop_registers"
  }
}

extension BatchProgram {
  /// Whether `program` looks like a batch form this rewriter emitted (an
  /// object written by `xdpbatch rewrite -o` and loaded back): it reads R2
  /// at entry, which only the batch runner passes (`count`,
  /// `end-pointer`), or it tests records for the runner's padding mark
  /// (`immediate`). A per-packet XDP program does neither: the kernel
  /// passes it R1 only.
  public static func looksLikeBatchForm(_ program: Program) -> Bool {
    let instructions = program.instructions
    let testsPadding = instructions.contains {
      $0.jumpOperation == .jeq && $0.operandSource == .immediate
        && $0.immediate == XDPContextLayout.paddingAction
    }
    if testsPadding { return true }
    return SafetyCheck(entryRegisters: [.r1]).violations(in: program).contains {
      if case .undefinedRegister(_, .r2) = $0 { true } else { false }
    }
      && SafetyCheck(entryRegisters: [.r1, .r2]).violations(in: program).allSatisfy {
        if case .undefinedRegister = $0 { false } else { true }
      }
  }
}
