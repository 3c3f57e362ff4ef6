// Loads and stores in LLVM's syntax: `w1 = *(u32 *)(r2 - 0x8)`,
// `r1 = *(s16 *)(r2 + 0x0)`, `*(u64 *)(r10 - 0x8) = 0x7`,
// `*(u8 *)(r10 - 0x8) = w2`, and the legacy `r0 = *(u16 *)skb[0xc]`.
//
// As objdump does by default, accesses of 4 bytes or fewer name the 32-bit
// register (`w1`), 8-byte ones the 64-bit register; sign-extending loads
// always write the 64-bit register.

extension Disassembler {
  func loadText(_ instruction: Instruction) throws(Undecodable) -> String {
    guard let size = instruction.accessSize else { throw Undecodable() }
    let pointer = try address(instruction.src, instruction.offset)
    switch instruction.accessMode {
    case .memory:
      let dst = try name(instruction.dst, wide: size == .doubleWord)
      return "\(dst) = *(\(size.unsignedTypeName) *)\(pointer)"
    case .memorySignExtend where size != .doubleWord:
      return "\(try name(instruction.dst, wide: true)) = *(s\(size.bytes * 8) *)\(pointer)"
    default:
      throw Undecodable()
    }
  }

  func storeImmediateText(_ instruction: Instruction) throws(Undecodable) -> String {
    guard instruction.accessMode == .memory, let size = instruction.accessSize else {
      throw Undecodable()
    }
    let pointer = try address(instruction.dst, instruction.offset)
    return
      "*(\(size.unsignedTypeName) *)\(pointer) = \(numberStyle.format(Int64(instruction.immediate)))"
  }

  func storeRegisterText(_ instruction: Instruction) throws(Undecodable) -> String {
    guard let size = instruction.accessSize else { throw Undecodable() }
    let wide = size == .doubleWord
    switch instruction.accessMode {
    case .memory:
      let pointer = try address(instruction.dst, instruction.offset)
      return "*(\(size.unsignedTypeName) *)\(pointer) = \(try name(instruction.src, wide: wide))"
    case .atomic where size == .word || size == .doubleWord:
      guard let operation = AtomicOperation(rawValue: instruction.immediate) else {
        throw Undecodable()
      }
      return try atomicText(instruction, operation, size: size)
    default:
      throw Undecodable()
    }
  }

  /// `lock *(u32 *)(r1 + 0x4) += w2`, `r2 = atomic_fetch_or((u64 *)(r1 + 0x4), r2)`,
  /// `w2 = xchg32_32(r1 + 0x4, w2)`, `r0 = cmpxchg_64(r1 + 0x4, r0, r2)`.
  private func atomicText(
    _ instruction: Instruction, _ operation: AtomicOperation, size: AccessSize
  )
    throws(Undecodable) -> String
  {
    let wide = size == .doubleWord
    let src = try name(instruction.src, wide: wide)
    let pointer = try address(instruction.dst, instruction.offset)
    let type = size.unsignedTypeName
    let bareAddress = String(pointer.dropFirst().dropLast())
    switch operation {
    case .add: return "lock *(\(type) *)\(pointer) += \(src)"
    case .or: return "lock *(\(type) *)\(pointer) |= \(src)"
    case .and: return "lock *(\(type) *)\(pointer) &= \(src)"
    case .xor: return "lock *(\(type) *)\(pointer) ^= \(src)"
    case .fetchAdd: return "\(src) = atomic_fetch_add((\(type) *)\(pointer), \(src))"
    case .fetchOr: return "\(src) = atomic_fetch_or((\(type) *)\(pointer), \(src))"
    case .fetchAnd: return "\(src) = atomic_fetch_and((\(type) *)\(pointer), \(src))"
    case .fetchXor: return "\(src) = atomic_fetch_xor((\(type) *)\(pointer), \(src))"
    case .exchange:
      return "\(src) = \(wide ? "xchg_64" : "xchg32_32")(\(bareAddress), \(src))"
    case .compareExchange:
      let r0 = try name(.r0, wide: wide)
      return "\(r0) = \(wide ? "cmpxchg_64" : "cmpxchg32_32")(\(bareAddress), \(r0), \(src))"
    }
  }

  /// The legacy packet loads: `r0 = *(u32 *)skb[0xc]` (absolute) and
  /// `r0 = *(u32 *)skb[r3]` (indirect; LLVM does not print the immediate).
  func packetLoadText(_ instruction: Instruction) throws(Undecodable) -> String {
    guard let size = instruction.accessSize, size != .doubleWord else { throw Undecodable() }
    let type = size.unsignedTypeName
    switch instruction.accessMode {
    case .absolute:
      return "r0 = *(\(type) *)skb[\(numberStyle.format(Int64(instruction.immediate)))]"
    case .indirect:
      return "r0 = *(\(type) *)skb[\(try name(instruction.src, wide: true))]"
    default:
      throw Undecodable()
    }
  }

  /// `r1 = 0x100000005 ll` for a constant (printed as a signed 64-bit
  /// number), objdump's `ld_pseudo\tr1, 0x5, 0x3` for every other kind, or
  /// the named map forms when ``mapName`` knows the map.
  func wideLoadText(_ first: Instruction, _ second: Instruction) throws(Undecodable) -> String {
    guard first.offset == 0 else { throw Undecodable() }
    let dst = try name(first.dst, wide: true)
    if first.src.rawValue == ImmediateLoadKind.value.rawValue {
      let value = Int64(bitPattern: first.wideImmediate(with: second))
      return "\(dst) = \(numberStyle.format(value)) ll"
    }
    if let named = namedMapText(first, second, dst: dst) { return named }
    let kind = numberStyle.format(magnitude: UInt64(first.src.rawValue))
    let immediate = numberStyle.format(magnitude: UInt64(UInt32(bitPattern: first.immediate)))
    return "ld_pseudo\t\(dst), \(kind), \(immediate)"
  }

  private func namedMapText(_ first: Instruction, _ second: Instruction, dst: String) -> String? {
    guard let mapName, let map = mapName(Int(first.immediate)) else { return nil }
    switch first.immediateLoadKind {
    case .mapByIndex:
      return "\(dst) = map[\(map)] ll"
    case .mapValueByIndex where second.immediate == 0:
      return "\(dst) = map_value[\(map)] ll"
    case .mapValueByIndex:
      let offset = Int64(second.immediate)
      let operation = offset < 0 ? "-" : "+"
      let magnitude = numberStyle.format(magnitude: offset.magnitude)
      return "\(dst) = map_value[\(map)] \(operation) \(magnitude) ll"
    default:
      return nil
    }
  }
}
