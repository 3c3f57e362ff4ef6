/// What the JIT knows of a program's bpf-to-bpf calls before it emits
/// them: what each call site pushes, and which exits only ever return to
/// a call site.
///
/// A call site pushes R10 (RBP, which the call points at the callee's
/// frame) and those of R6 - R9 the callee's own code may write. The
/// interpreter restores R6 - R10 at every return; a register the
/// callee's code never names comes back unchanged without a save. As the
/// kernel's x86 JIT, whose callees push only the callee-saved registers
/// they use. The callee's code is every slot reachable from its entry by
/// jumps and fall-through, a call going on after the call (the callee's
/// own calls save for their callees). A callee that may tail call saves
/// all four: the target's body runs in the callee's frame and returns
/// through the callee's call site. So does one with atomics or legacy
/// packet loads, whose callbacks reload registers from the register file
/// (``CalleeSaved``). The pushes keep RSP 16-byte aligned at the call,
/// as the prologue does: with an even count, one more register is pushed.
///
/// An `exit` that no path from the program's entry reaches, only paths
/// from a callee's entry, runs at a depth of one or more: it returns to
/// its call site with no test of the depth. The program's entry is where
/// every run and every tail call starts (a copy exit goes on at the same
/// slot, in the same frame).
///
/// ``frameDepths`` is the compile-time proof of call depth
/// (``FrameDepths``): where it holds, the code keeps no depth count.
struct LocalCalls {
  /// Per callee entry slot, in push order (RBP last).
  private var pushes: [Int: [X86Register]] = [:]
  /// The exits only callees' code reaches.
  private(set) var calleeExits: Set<Int> = []
  /// The frame each call, exit and tail call runs in, proven at compile
  /// time (nil: not proven, or not asked for; the code counts the depth
  /// at run time).
  private(set) var frameDepths: FrameDepths?

  init(slots: UnsafeMutablePointer<Slot>, count: Int, provingFrames: Bool = true) {
    if provingFrames { frameDepths = FrameDepths(slots: slots, count: count) }
    var calleeCode = [Bool](repeating: false, count: count)
    for index in 0..<count where slots[index].operation == .callLocal {
      let entry = Int(slots[index].offset)
      guard entry >= 0, entry < count, pushes[entry] == nil else { continue }
      let code = Self.code(from: entry, slots: slots, count: count)
      pushes[entry] = Self.pushes(code, slots: slots)
      for index in code { calleeCode[index] = true }
    }
    guard !pushes.isEmpty else { return }
    let entryCode = Set(Self.code(from: 0, slots: slots, count: count))
    for index in 0..<count
    where calleeCode[index] && !entryCode.contains(index) && slots[index].operation == .exit {
      calleeExits.insert(index)
    }
  }

  /// The registers a call to `callee` pushes, in push order: all five
  /// for a callee this pass did not see.
  func registers(callee: Int) -> [X86Register] {
    pushes[callee] ?? Self.everything
  }

  private static let everything: [X86Register] = [.rbx, .r13, .r14, .r15, .rbp]

  /// The slots reachable from `entry` by jumps and fall-through.
  static func code(
    from entry: Int, slots: UnsafeMutablePointer<Slot>, count: Int
  ) -> [Int] {
    let reached = SlotFlow.solve(
      count: count, entries: [(slot: entry, state: true)], meet: { $0 || $1 }
    ) { index, _ in
      let slot = slots[index]
      let next = (slot: index + (slot.operation == .loadImmediate64 ? 2 : 1), state: true)
      switch slot.operation.family {
      case .jump:
        let taken = (slot: Int(slot.offset), state: true)
        return slot.operation == .ja ? [taken] : [taken, next]
      case .call where slot.operation == .exit: return []
      case .trap: return []
      default: return [next]
      }
    }
    return (0..<count).filter { reached[$0] != nil }
  }

  private static func pushes(_ code: [Int], slots: UnsafeMutablePointer<Slot>) -> [X86Register] {
    var named: Set<UInt8> = []
    for index in code {
      let slot = slots[index]
      switch slot.operation.family {
      case .atomic, .packetLoad: return Self.everything
      default: break
      }
      if slot.operation == .tailCall { return Self.everything }
      // dst and src of every slot, written or not: naming too many only
      // saves more.
      for number in [slot.dst, slot.src] where (6...9).contains(number) { named.insert(number) }
    }
    var saved = Self.everything.dropLast().filter { register in
      named.contains { JITRegisters.bpf($0) == register }
    }
    if saved.count % 2 == 1 {
      // An odd count plus RBP is even: one more keeps the alignment.
      saved += [Self.everything.first { !saved.contains($0) && $0 != .rbp }!]
    }
    return saved + [.rbp]
  }
}
