import BPF

/// An independent check that a program is well formed in the ways a
/// rewrite could break it, run on every program the rewriter emits:
/// structure (`ld_imm64` pairs, targets), reachability, R10 never written,
/// main-frame stack accesses within `[-512, 0)`, registers defined before
/// use on every path, and no loop the input did not have.
///
/// It is deliberately narrower than the kernel's verifier (no types, no
/// bounds): it catches rewriting mistakes, not unsafe programs.
public struct SafetyCheck: Sendable {
  /// Registers defined when the main program starts, besides R10.
  public var entryRegisters: Set<Register>
  /// Back edges the program may have (the input's own loops and, for a
  /// batch program, the loop back edge).
  public var allowedBackEdges: Set<ControlFlowEdge>
  /// Stack slots (offsets from R10) whose values the stack analysis need
  /// not track: a batch loop's own slots.
  public var opaqueSlots: Set<Int> = []

  /// Configures the check.
  public init(
    entryRegisters: Set<Register> = [.r1], allowedBackEdges: Set<ControlFlowEdge> = [],
    opaqueSlots: Set<Int> = []
  ) {
    self.entryRegisters = entryRegisters
    self.allowedBackEdges = allowedBackEdges
    self.opaqueSlots = opaqueSlots
  }

  /// Every violation in `program`, in instruction order within each kind;
  /// empty when the program passes.
  public func violations(in program: Program) -> [SafetyViolation] {
    let instructions = program.instructions
    do {
      _ = try InstructionBuffer(instructions)
    } catch {
      return [Self.structural(error)]
    }
    let graph = ControlFlowGraph(instructions, subprogramStarts: program.subprograms.map(\.start))
    let functions = Self.functionStarts(program, graph: graph)
    var found: [SafetyViolation] = []
    found += Self.layoutViolations(graph, functionStarts: functions)
    let reachable = graph.reachable()
    var previousUnreachable = false
    for index in instructions.indices where !graph.isSecondSlot[index] {
      if !reachable[index] && !previousUnreachable { found.append(.unreachable(index: index)) }
      previousUnreachable = !reachable[index]
      if RegisterEffects(instructions[index]).writes & RegisterEffects.bit(.r10) != 0 {
        found.append(.framePointerWritten(index: index))
      }
    }
    found += Self.directStackViolations(instructions, isSecondSlot: graph.isSecondSlot)
    let frame = StackFrameAnalysis(
      program, graph: graph, entryRegisters: entryRegisters, opaqueSlots: opaqueSlots)
    for case .outsideFrame(let index, let offset, let size) in frame.hazards
    where !found.contains(.stackAccessOutsideFrame(index: index, offset: offset, size: size)) {
      found.append(.stackAccessOutsideFrame(index: index, offset: offset, size: size))
    }
    found += definedRegisterViolations(graph, functionStarts: functions)
    found += graph.backEdges().subtracting(allowedBackEdges)
      .sorted { ($0.from, $0.to) < ($1.from, $1.to) }.map { .unexpectedBackEdge($0) }
    return found
  }

  private static func structural(_ error: PatchError) -> SafetyViolation {
    switch error {
    case .targetOutOfRange(let index, let target): .targetOutOfRange(index: index, target: target)
    case .targetInsideWideLoad(let index, let target):
      .targetInsideWideLoad(index: index, target: target)
    case .malformedWideLoad(let index), .splitsWideLoad(let index),
      .indexOutOfRange(let index, _), .distanceOverflow(let index, _, _), .notAReference(let index):
      .malformedWideLoad(index: index)
    }
  }

  /// Sorted starts of the main program and of every function a call or
  /// code reference names.
  private static func functionStarts(_ program: Program, graph: ControlFlowGraph) -> [Int] {
    Array(Set(graph.entries + [program.mainLength]).filter { $0 < program.instructions.count })
      .sorted()
  }

  private static func layoutViolations(
    _ graph: ControlFlowGraph, functionStarts: [Int]
  ) -> [SafetyViolation] {
    var found: [SafetyViolation] = []
    func function(of index: Int) -> Int { functionStarts.lastIndex { $0 <= index } ?? 0 }
    for index in graph.instructions.indices where !graph.isSecondSlot[index] {
      let instruction = graph.instructions[index]
      let owner = function(of: index)
      let end =
        owner + 1 < functionStarts.count ? functionStarts[owner + 1] : graph.instructions.count
      if instruction.isBranch, let target = instruction.referenceTarget(at: index),
        function(of: target) != owner
      {
        found.append(.jumpLeavesFunction(index: index, target: target))
      }
      let endsFlow =
        instruction.isExit || (instruction.isBranch && instruction.jumpOperation == .ja)
      let next = index + (instruction.isWideImmediateLoad ? 2 : 1)
      if !endsFlow && next >= end { found.append(.fallsOffEnd(index: index)) }
    }
    return found
  }

  private static func directStackViolations(
    _ instructions: [Instruction], isSecondSlot: [Bool]
  ) -> [SafetyViolation] {
    instructions.indices.compactMap { index in
      let instruction = instructions[index]
      guard !isSecondSlot[index], let size = instruction.accessSize?.bytes,
        instruction.accessMode == .memory || instruction.accessMode == .memorySignExtend
          || instruction.accessMode == .atomic
      else { return nil }
      let base = instruction.instructionClass == .ldx ? instruction.src : instruction.dst
      let offset = Int(instruction.offset)
      guard base == .r10, offset < -512 || offset + size > 0 else { return nil }
      return .stackAccessOutsideFrame(index: index, offset: offset, size: size)
    }
  }

  private func definedRegisterViolations(
    _ graph: ControlFlowGraph, functionStarts: [Int]
  ) -> [SafetyViolation] {
    func mask(_ registers: some Sequence<Register>) -> UInt16 {
      registers.reduce(0) { $0 | 1 << UInt16($1.rawValue) }
    }
    var defined = [UInt16?](repeating: nil, count: graph.instructions.count)
    var pending: [Int] = []
    for start in functionStarts {
      defined[start] =
        start == 0 ? mask(entryRegisters.union([.r10])) : mask([.r1, .r2, .r3, .r4, .r5, .r10])
      pending.append(start)
    }
    var found: Set<SafetyViolation> = []
    while let index = pending.popLast() {
      guard var state = defined[index] else { continue }
      let effects = RegisterEffects(graph.instructions[index])
      var undefined = effects.reads & ~state
      while undefined != 0 {
        let number = UInt8(undefined.trailingZeroBitCount)
        found.insert(.undefinedRegister(index: index, register: Register(rawValue: number)))
        undefined &= undefined - 1
      }
      state |= effects.writes
      state &= ~(effects.clobbers & ~effects.writes)
      for edge in graph.successorStarts[index]..<graph.successorStarts[index + 1] {
        let next = graph.successorTargets[edge]
        let merged = defined[next].map { $0 & state } ?? state
        if merged != defined[next] {
          defined[next] = merged
          pending.append(next)
        }
      }
    }
    return found.sorted {
      if case .undefinedRegister(let left, let first) = $0,
        case .undefinedRegister(let right, let second) = $1
      {
        return (left, first.rawValue) < (right, second.rawValue)
      }
      return false
    }
  }
}
