/// Which registers hold the current frame pointer plus a known constant
/// before each slot: the part of the kernel verifier's `PTR_TO_STACK`
/// tracking the JIT needs to leave a stack access unchecked when the
/// program reaches the frame through a copy of R10 (`r2 = r10; r2 += -16`,
/// as clang writes for a key or a buffer on the stack).
///
/// A forward data-flow pass to a fixed point over the prepared slots: a
/// register is known only when every path into the slot gives it the same
/// offset from R10. `r = r10`, `r = r'` (64-bit) and `r += k`, `r -= k`
/// (64-bit, immediate) keep it known; any other write forgets it, and so
/// do calls (R0-R5), atomics (R0 and the source) and legacy packet loads
/// (R0-R5). A subprogram's entry knows nothing (its R10 is its own frame);
/// after a bpf-to-bpf call R6-R9 still point into the caller's frame, whose
/// pointer the return restores.
struct StackPointers {
  /// Per slot, the offset from R10 of R0-R9 (nil: unknown); nil for a slot
  /// no path reaches.
  private(set) var before: [[Int32?]?]

  /// Offsets past this size are not tracked (no frame reaches them).
  static let limit: Int64 = 1 << 20

  init(slots: UnsafeMutablePointer<Slot>, count: Int) {
    before = SlotFlow.solveRegisters(slots: slots, count: count) {
      _, slot, next, state, reach in
      var state = state
      switch slot.operation.family {
      case .jump:
        reach(Int(slot.offset), state)
        if slot.operation != .ja { reach(next, state) }
      case .call:
        switch slot.operation {
        case .exit: break
        default:
          for register in 0...5 { state[register] = nil }
          reach(next, state)
        }
      case .trap:
        break
      default:
        Self.apply(slot, to: &state)
        reach(next, state)
      }
    }
  }

  /// The offset from R10 that `register` holds before slot `index`.
  func offset(of register: UInt8, at index: Int) -> Int32? {
    if register == 10 { return 0 }
    guard register < 10, index < before.count else { return nil }
    return before[index]?[Int(register)] ?? nil
  }

  private static func apply(_ slot: Slot, to state: inout [Int32?]) {
    func set(_ register: UInt8, _ value: Int64?) {
      guard register < 10 else { return }
      state[Int(register)] = value.flatMap { abs($0) < limit ? Int32($0) : nil }
    }
    func known(_ register: UInt8) -> Int64? {
      register == 10 ? 0 : register < 10 ? state[Int(register)].map(Int64.init) : nil
    }
    switch slot.operation {
    case .mov64X: set(slot.dst, known(slot.src))
    case .add64K: set(slot.dst, known(slot.dst).map { $0 + slot.immediate })
    case .sub64K: set(slot.dst, known(slot.dst).map { $0 - slot.immediate })
    default:
      switch slot.operation.family {
      case .arithmetic, .byteOrder, .load, .loadImmediate64: set(slot.dst, nil)
      case .atomic:
        set(0, nil)
        set(slot.src, nil)
      case .packetLoad:
        for register in 0...5 { state[register] = nil }
      default: break
      }
    }
  }
}
