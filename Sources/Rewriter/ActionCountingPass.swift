import BPF

/// Instruments a per-packet XDP program to count its verdicts: before the
/// main program returns, one packet and the frame's length are added to a
/// per-CPU array of `{u64 packets; u64 bytes}` records indexed by action
/// (xdp-tools' `xdp_stats_record`, 5 entries). A return value above 4 is
/// counted as ABORTED (index 0), as the kernel treats it. The result loads
/// into the real kernel.
///
/// The context pointer is saved at entry in a stack slot below the
/// program's deepest stack use (the program may clobber every register,
/// R6–R9 included); every main `exit` jumps to one counting block, which
/// may use R1–R9 freely because the program is done with them there.
/// Subprogram exits are returns and stay.
public struct ActionCountingPass: Sendable {
  /// Index of the counters map in the object's map table: the caller
  /// appends ``countersMap`` to the table and passes its index.
  public var countersMapIndex: Int32
  /// Offsets of `data` and `data_end` in the context (`struct xdp_md` in the
  /// kernel, the same in ``XDPContextLayout/engine``).
  public var layout: XDPContextLayout
  /// Also copy frames and verdicts into a ring buffer (`xdpbatch capture`).
  public var capture: VerdictCapture?

  /// The counters map: per-CPU array, key u32 action, value
  /// `{u64 packets; u64 bytes}`, one entry per action.
  public static let countersMap = MapDefinition(
    name: "xdp_stats_map", type: .perCPUArray, keySize: 4, valueSize: 16,
    maxEntries: UInt32(XDPAction.allCases.count))

  /// Configures the pass.
  public init(
    countersMapIndex: Int32, layout: XDPContextLayout = .engine, capture: VerdictCapture? = nil
  ) {
    self.countersMapIndex = countersMapIndex
    self.layout = layout
    self.capture = capture
  }

  /// `program` with verdict counting added.
  public func apply(to program: Program) throws(RewriteError) -> Program {
    var buffer = try InstructionBuffer(rewriting: program)
    let frame = StackFrameAnalysis(program)
    guard !frame.mainExits.isEmpty else { throw .noMainExit }
    if let hazard = frame.hazards.first { throw .unprovableStack(hazard) }
    let depth = frame.alignedStackDepth
    guard depth + 16 <= BatchTrampoline.stackLimit else {
      throw .stackTooLarge(used: frame.stackDepth, reserved: 16)
    }
    let (contextSlot, keySlot) = (Int16(-depth - 8), Int16(-depth - 16))
    let result: Program
    let allowed: Set<ControlFlowEdge>
    do {
      try buffer.insert(
        [.store(.doubleWord, .r1, to: .r10, offset: contextSlot)], at: 0, landing: .onOriginal)
      let end = buffer.location(ofOriginal: program.mainLength) ?? buffer.count
      let block = countingBlock(contextSlot: contextSlot, keySlot: keySlot)
      let start = try buffer.routeExits(frame.mainExits, into: block, at: end)
      result = buffer.relinked(program, mainLength: start + block.count)
      allowed = BatchTrampoline.movedBackEdges(frame.graph, buffer, fallback: start)
    } catch {
      throw .patchFailed(error)
    }
    let violations = SafetyCheck(allowedBackEdges: allowed).violations(in: result)
    guard violations.isEmpty else { throw .safetyCheckFailed(violations) }
    return result
  }

  /// The block every main exit reaches: R0 holds the verdict.
  func countingBlock(contextSlot: Int16, keySlot: Int16) -> [Instruction] {
    var block: [Instruction] = [
      .move(.r6, .r0),
      .arithmetic(.mov, .r1, .r0, wide: false),  // the verdict as u32
      .jump(.jle, .r1, immediate: Int32(XDPAction.allCases.count - 1), offset: 1),
      .move(.r1, immediate: Int32(XDPAction.aborted.rawValue)),
      .store(.word, .r1, to: .r10, offset: keySlot),
      .move(.r2, .r10),
      .add(.r2, immediate: Int32(keySlot)),
    ]
    block += Instruction.loadImmediate64(
      .r1, UInt64(UInt32(bitPattern: countersMapIndex)), kind: .mapByIndex)
    let update: [Instruction] = [
      .load(.doubleWord, .r1, from: .r0, offset: 0),
      .add(.r1, immediate: 1),
      .store(.doubleWord, .r1, to: .r0, offset: 0),
      .load(.doubleWord, .r7, from: .r10, offset: contextSlot),
      .load(.word, .r2, from: .r7, offset: layout.data),
      .load(.word, .r3, from: .r7, offset: layout.dataEnd),
      .arithmetic(.sub, .r3, .r2),
      .load(.doubleWord, .r1, from: .r0, offset: 8),
      .arithmetic(.add, .r1, .r3),
      .store(.doubleWord, .r1, to: .r0, offset: 8),
    ]
    block += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: Int16(update.count)),
    ]
    let captured = capture?.block(contextSlot: contextSlot, layout: layout) ?? []
    return block + update + captured + [.move(.r0, .r6), .exit]
  }
}
