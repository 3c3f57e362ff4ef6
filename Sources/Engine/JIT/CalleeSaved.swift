/// The callee-saved registers a compiled program's prologue pushes and its
/// epilogue pops, as the kernel's x86 JIT saves only the ones the program
/// uses (`detect_reg_usage`).
///
/// RBP (R10) and R12 (the context block) are always written. RBX, R13,
/// R14 and R15 hold R6 - R9 and are saved only when some slot names one of
/// those registers. Code that may tail call saves all six: a native tail
/// call jumps into its target's body, past the target's prologue, and the
/// target then leaves through its own epilogue, which sees a tail call
/// taken (``JITContext/tailCalls`` above 0, reset by every prologue) and
/// restores the entry's frame of six, not its own. Code with atomics or
/// legacy packet loads saves all six too: their Swift callbacks store and
/// reload R0 - R10 through the register file, so those registers must
/// hold the values the interpreter's would (zeroed by the prologue).
struct CalleeSaved: Equatable {
  /// In push order.
  let registers: [X86Register]
  /// Bytes subtracted after the pushes to keep RSP 16-byte aligned at calls.
  let padding: Int32
  /// The BPF registers the prologue zeroes (R1 and R2 are arguments, R10
  /// the frame pointer).
  let zeroed: [UInt8]

  /// The frame of code that may tail call: all six registers.
  static let all = CalleeSaved(bpfRegisters: [6, 7, 8, 9])

  private init(bpfRegisters: [UInt8]) {
    let map = JITRegisters.self
    let named = Set(bpfRegisters.map { map.bpf($0).number })
    registers = [X86Register.rbp, .rbx, .r12, .r13, .r14, .r15].filter {
      $0 == .rbp || $0 == map.context || named.contains($0.number)
    }
    // The call pushed 8 bytes; with them the pushes must leave RSP at a
    // multiple of 16.
    padding = registers.count % 2 == 0 ? 8 : 0
    zeroed = [0, 3, 4, 5] + bpfRegisters
  }

  /// The frame for `count` slots from `slots`.
  init(slots: UnsafeMutablePointer<Slot>, count: Int, usesTailCalls: Bool) {
    var named: Set<UInt8> = []
    var everything = usesTailCalls
    for index in 0..<count {
      let slot = slots[index]
      switch slot.operation.family {
      case .atomic, .packetLoad: everything = true
      default: break
      }
      // dst and src of every slot, registers or not: naming too many only
      // saves more.
      for number in [slot.dst, slot.src] where (6...9).contains(number) { named.insert(number) }
    }
    self = everything ? .all : CalleeSaved(bpfRegisters: named.sorted())
  }
}
