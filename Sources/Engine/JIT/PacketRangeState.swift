extension PacketRanges {
  /// What a register holds.
  enum Value: Equatable {
    case context
    /// `data` plus the offset.
    case packet(Int32)
    /// `data` plus the variable part named `variable` (the slot that added
    /// it, or ``entryVariable(_:_:)`` of a subprogram's argument), plus
    /// `offset`.
    case variablePacket(variable: Int, offset: Int32)
    case packetEnd
    /// A number in `low...high` (within `0...limit`).
    case scalar(low: Int64, high: Int64)
  }

  struct State: Equatable {
    var registers: [Value?] = Array(repeating: nil, count: 10)
    /// Bytes from `data` proven to lie before `data_end`.
    var range: Int32 = 0
    /// Per variable part (the slot that added it), bytes from `data` plus
    /// it proven to lie before `data_end`.
    var variableRanges: [Int: Int32] = [:]
    /// Offsets from R10 of 8-byte stack slots that hold the context.
    var spilledContext: Set<Int32> = []
    /// The registers that hold the `data_end` the latest load of it read
    /// (that register and its copies): a guard's fact is about that value.
    var ends: Set<UInt8> = []
    /// Whether a guard checked that the region of `data`'s page reaches
    /// the value of ``ends`` (so it holds `[data, data_end)`, and
    /// `[data + V, data_end)` for every variable part V >= 0).
    var guarded = false
    /// Variable parts whose start's (`data + V`) region a guard checked
    /// to reach the value of ``ends``.
    var guardedVariables: Set<Int> = []

    /// Forgets the packet pointers and the range (a new `data`).
    mutating func forgetPointers() {
      for n in 0..<10 {
        switch registers[n] {
        case .packet, .variablePacket: registers[n] = nil
        default: break
        }
      }
      range = 0
      variableRanges = [:]
      guarded = false
      guardedVariables = []
    }

    /// Forgets the pointers with the variable part added at `slot`.
    mutating func forgetVariable(_ slot: Int) {
      for n in 0..<10 {
        if case .variablePacket(slot, _) = registers[n] { registers[n] = nil }
      }
      variableRanges[slot] = nil
      guardedVariables.remove(slot)
    }

    mutating func forgetPacket() {
      for n in 0..<10 where registers[n] != .context && registers[n] != nil {
        registers[n] = nil
      }
      range = 0
      variableRanges = [:]
      ends = []
      guarded = false
      guardedVariables = []
    }

    /// Keeps in ``ends`` only registers that still hold `data_end`.
    mutating func trimEnds() {
      ends = ends.filter { registers[Int($0)] == .packetEnd }
    }

    /// Whether an earlier guard covers a compare of `pointer` (start plus
    /// n, n > 0) with the `data_end` in `end`: the start's region reaches
    /// that `data_end`, so on the edge where the pointer is at most
    /// `data_end` its n bytes lie in that region too.
    func covers(end: UInt8, variable: Int?) -> Bool {
      guard ends.contains(end) else { return false }
      if guarded { return true }
      return variable.map { guardedVariables.contains($0) } ?? false
    }

    /// What a guard at a compare with the `data_end` in `end` checked,
    /// from the start (`data`, or `data` plus the variable part).
    mutating func recordGuard(end: UInt8, variable: Int?) {
      guard ends.contains(end) else { return }
      if let variable { guardedVariables.insert(variable) } else { guarded = true }
    }

    func meet(_ other: State) -> State {
      var result = State()
      for n in 0..<10 {
        if registers[n] == other.registers[n] {
          result.registers[n] = registers[n]
        } else if case .scalar(let low, let high) = registers[n],
          case .scalar(let otherLow, let otherHigh) = other.registers[n],
          max(high, otherHigh) - min(low, otherLow) <= PacketRanges.scalarWidth
        {
          result.registers[n] = .scalar(low: min(low, otherLow), high: max(high, otherHigh))
        }
      }
      result.range = min(range, other.range)
      for (variable, bytes) in variableRanges {
        if let other = other.variableRanges[variable] {
          result.variableRanges[variable] = min(bytes, other)
        }
      }
      result.spilledContext = spilledContext.intersection(other.spilledContext)
      result.ends = ends.intersection(other.ends)
      result.guarded = guarded && other.guarded
      result.guardedVariables = guardedVariables.intersection(other.guardedVariables)
      result.trimEnds()
      return result
    }

    /// The state at a subprogram's entry `entry` from a call site's: R1 -
    /// R5 as the call site holds them (the verifier's `set_callee_state`
    /// copies R1 - R5, their ranges with them), each packet pointer
    /// `data + n` or `data + V + n` (n >= 0) as `data` plus a variable
    /// part named by the entry and the register, so call sites that pass
    /// different n join; the context is not carried (never known at a
    /// subprogram's entry); the callee's stack is its own.
    func entry(_ entry: Int) -> State {
      var result = State()
      result.guarded = guarded
      for n in 1...5 {
        let key = PacketRanges.entryVariable(entry, n)
        switch registers[n] {
        case .packet(let offset) where offset >= 0:
          result.registers[n] = .variablePacket(variable: key, offset: 0)
          if range > offset { result.variableRanges[key] = range - offset }
        case .variablePacket(let variable, let offset) where offset >= 0:
          result.registers[n] = .variablePacket(variable: key, offset: 0)
          if let bytes = variableRanges[variable], bytes > offset {
            result.variableRanges[key] = bytes - offset
          }
          if guardedVariables.contains(variable) { result.guardedVariables.insert(key) }
        case .packetEnd:
          result.registers[n] = .packetEnd
          if ends.contains(UInt8(n)) { result.ends.insert(UInt8(n)) }
        case .scalar:
          result.registers[n] = registers[n]
        default:
          break
        }
      }
      return result
    }
  }

  /// The name of the variable part of argument register `register` at
  /// the subprogram entry `entry`: negative, so no slot's name.
  static func entryVariable(_ entry: Int, _ register: Int) -> Int {
    -(entry * 8 + register)
  }
}
