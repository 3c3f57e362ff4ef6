import BPF

extension PacketRanges {
  /// ``applyValues(_:at:to:)``, and what the slot does to the trusted
  /// context: a register written keeps it only as a 64-bit copy of a
  /// register that holds it (a record moved, refilled from the stack or
  /// loaded is not the one the entry checked); a load of `data` or
  /// `data_end` is trusted when it reads through such a register
  /// (``Source/entry``), or through one of the batch's records
  /// (``RecordCursors/holdsRecord(_:at:)``: ``Source/record(_:)``, named
  /// by the register that holds it, which a write to it hands to a copy
  /// that holds the same record, or forgets).
  static func apply(
    _ slot: Slot, at index: Int, to state: inout State, records: RecordCursors? = nil
  ) {
    // A batch record first: what the cursors know holds on every path,
    // so a load's source does not change as the pass learns more.
    let fromRecord = slot.src < 10 && records?.holdsRecord(slot.src, at: index) == true
    let fromEntry = slot.src < 10 && state.trusted.contains(slot.src)
    applyValues(slot, at: index, to: &state)
    guard slot.operation.family != .store, slot.dst < 10 else { return }
    state.trusted.remove(slot.dst)
    // A source named by the register written moves to a copy, or is lost.
    let moved = records?.copy(of: slot.dst, at: index).map { Source.record($0) }
    if state.trustedData == .record(slot.dst) { state.trustedData = moved }
    if state.trustedEnd == .record(slot.dst) { state.trustedEnd = moved }
    if slot.operation == .mov64X, fromEntry { state.trusted.insert(slot.dst) }
    guard slot.operation == .loadWord, fromEntry || fromRecord else { return }
    let source: Source? =
      if !fromRecord {
        .entry
      } else if slot.src != slot.dst {
        .record(slot.src)
      } else {
        records?.copy(of: slot.src, at: index).map { .record($0) }
      }
    switch state.registers[Int(slot.dst)] {
    case .packet(0): state.trustedData = source
    case .packetEnd: state.trustedEnd = source
    default: break
    }
  }

  /// What a trusted `data` or `data_end` was read through.
  enum Source: Equatable {
    /// The entry's R1 (``State/trusted``): the record the entry named.
    case entry
    /// The batch record (``RecordCursors``) the register still holds:
    /// trusted where the entry named the batch.
    case record(UInt8)
  }

  /// The loads through a register that holds the entry's R1, of bytes
  /// within one record (``trustedLoads``).
  static func trustedLoads(
    slots: UnsafeMutablePointer<Slot>, count: Int, before: [State?]
  ) -> Set<Int> {
    var loads = Set<Int>()
    for index in 0..<count where slots[index].operation.family == .load {
      let slot = slots[index]
      if let state = before[index], slot.src < 10, state.trusted.contains(slot.src),
        let size = loadSize(slot.operation), slot.offset >= 0,
        Int64(slot.offset) + Int64(size) <= Int64(XDPContextLayout.engine.stride)
      {
        loads.insert(index)
      }
    }
    return loads
  }

  /// The bytes a load reads.
  static func loadSize(_ operation: Operation) -> Int? {
    switch operation {
    case .loadByte, .loadSignedByte: 1
    case .loadHalf, .loadSignedHalf: 2
    case .loadWord, .loadSignedWord: 4
    case .loadDouble: 8
    default: nil
    }
  }

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
    /// The registers that hold R1 as the program's entry had it (and its
    /// 64-bit copies): the record the code may trust once the entry's
    /// check passed (``PacketRanges/trustedSites``).
    var trusted: Set<UInt8> = []
    /// What the latest `data`, the start of every packet pointer, was
    /// loaded through, if a register in ``trusted`` or a batch record.
    var trustedData: Source?
    /// What the `data_end` of ``ends`` was loaded through, if a register in
    /// ``trusted`` or a batch record.
    var trustedEnd: Source?

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
      trustedData = nil
    }

    /// At a call (slot `index`), which clobbers R0 - R5: a batch record
    /// named by one of them moves to a copy in R6 - R9, or is forgotten.
    mutating func keepRecordSources(acrossCallAt index: Int, _ records: RecordCursors?) {
      for register: UInt8 in 0...5 {
        let moved = records?.copy(of: register, at: index, among: 0x3c0).map { Source.record($0) }
        if trustedData == .record(register) { trustedData = moved }
        if trustedEnd == .record(register) { trustedEnd = moved }
      }
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
      trustedData = nil
      trustedEnd = nil
    }

    /// Keeps in ``ends`` only registers that still hold `data_end`, and in
    /// ``trusted`` only registers that still hold the context.
    mutating func trimEnds() {
      ends = ends.filter { registers[Int($0)] == .packetEnd }
      trusted = trusted.filter { registers[Int($0)] == .context }
    }

    /// Whether a compare with the `data_end` in `end` proves its bytes from
    /// values the runner vouches for: `data` and that `data_end` both read
    /// through the entry's R1 (``trusted``), or both through the same
    /// record of the batch, so the entry's check covers it as a guard
    /// would (``PacketRanges/trustedSites``).
    func trusts(end: UInt8) -> Bool {
      trustedData != nil && trustedData == trustedEnd && ends.contains(end)
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
      result.trusted = trusted.intersection(other.trusted)
      result.trustedData = trustedData == other.trustedData ? trustedData : nil
      result.trustedEnd = trustedEnd == other.trustedEnd ? trustedEnd : nil
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
