/// The call depth proven at compile time, as the kernel's verifier bounds
/// it (`check_max_stack_depth`: at most `MAX_CALL_FRAMES` frames on any
/// chain of calls; `check_cfg`: no recursion), so the code keeps no count
/// of the depth and checks none at a call.
///
/// The proof assumes the program's entry runs in frame 0: every run
/// starts there, and so does every tail call taken in frame 0. Each
/// function (the entry, each callee's entry) is given one depth: 0 for
/// the entry, its caller's plus one for a callee. The proof holds when
/// every call, `exit` and tail call the functions' code reaches (jumps
/// and fall-through, ``LocalCalls/code(from:slots:count:)``) has one
/// depth whichever function reaches it, no call would make a frame past
/// the last (``Machine/frameLimit``: the interpreter's fault), and every
/// tail call is in frame 0. A call in a cycle gets a second depth, so
/// recursion is not proven; neither is a callee that tail calls: the
/// target's body would run deeper than frame 0, where its own proof does
/// not hold.
///
/// Where it holds, a call loads the callee's frame pointer from its known
/// frame's stack top, and an `exit` in frame 0 leaves the run while one
/// deeper returns, with no test. A tail call taken deeper than frame 0
/// (from code compiled without the proof) goes through the engine's
/// Swift code, which hands it the target's code compiled without the
/// proof (``Machine/codeBelowFrameZero(for:_:)``): that code counts the
/// depth from the context block, and faults where the interpreter does.
struct FrameDepths {
  /// Per call, exit and tail call slot reached, its frame.
  private let depths: [Int: Int]

  init?(slots: UnsafeMutablePointer<Slot>, count: Int) {
    var functionDepths = [0: 0]
    var work = [0]
    var depths: [Int: Int] = [:]
    while let entry = work.popLast() {
      let depth = functionDepths[entry]!
      for index in LocalCalls.code(from: entry, slots: slots, count: count) {
        let slot = slots[index]
        switch slot.operation {
        case .exit, .callLocal, .tailCall: break
        default: continue
        }
        if let known = depths[index], known != depth { return nil }
        depths[index] = depth
        if slot.operation == .tailCall, depth > 0 { return nil }
        guard slot.operation == .callLocal else { continue }
        let callee = Int(slot.offset)
        guard callee >= 0, callee < count, depth + 1 < Machine.frameLimit else { return nil }
        if let known = functionDepths[callee] {
          if known != depth + 1 { return nil }
        } else {
          functionDepths[callee] = depth + 1
          work.append(callee)
        }
      }
    }
    self.depths = depths
  }

  /// The frame slot `index` runs in (nil: no path reaches it).
  subscript(index: Int) -> Int? { depths[index] }
}

extension Machine {
  /// The code a tail call taken deeper than frame 0 runs: `code` (the
  /// program's) where it counts the depth itself, else the program's
  /// code compiled without the frame proof, on first use (nil when that
  /// fails to compile).
  func codeBelowFrameZero(
    for program: PreparedProgram, _ code: CompiledProgram
  ) -> CompiledProgram? {
    guard code.framesProven else { return code }
    if let deeper = program.compiledBelowFrameZero { return deeper }
    do {
      let deeper = try JITCompiler.compile(
        program,
        storage: MapValuePointers.Storage(
          maps: maps, processor: Int(configuration.processorID), space: addressSpace),
        provingFrames: false)
      program.compiledBelowFrameZero = deeper
      return deeper
    } catch {
      return nil
    }
  }
}
