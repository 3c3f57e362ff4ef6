/// The size field of a load or store opcode (RFC 9669, section 5.1).
public enum AccessSize: UInt8, Sendable, CaseIterable {
  /// 4 bytes.
  case word = 0x00
  /// 2 bytes.
  case halfWord = 0x08
  /// 1 byte.
  case byte = 0x10
  /// 8 bytes.
  case doubleWord = 0x18

  /// The access width in bytes.
  public var bytes: Int {
    switch self {
    case .byte: 1
    case .halfWord: 2
    case .word: 4
    case .doubleWord: 8
    }
  }

  /// The C type LLVM prints for the access (`u8`, `u16`, `u32`, `u64`).
  public var unsignedTypeName: String { "u\(bytes * 8)" }
}

/// The mode field of a load or store opcode (RFC 9669, section 5.1).
public enum AccessMode: UInt8, Sendable, CaseIterable {
  /// 64-bit immediate load (`ld_imm64`, class `ld`).
  case immediate = 0x00
  /// Legacy packet load at an absolute offset.
  case absolute = 0x20
  /// Legacy packet load at a register-relative offset.
  case indirect = 0x40
  /// Regular load or store.
  case memory = 0x60
  /// Sign-extending load.
  case memorySignExtend = 0x80
  /// Atomic read-modify-write (class `stx`).
  case atomic = 0xc0
}

/// The immediate of an atomic instruction: the operation, optionally with
/// the fetch flag (RFC 9669, section 5.3).
public enum AtomicOperation: Int32, Sendable, CaseIterable {
  case add = 0x00
  case or = 0x40
  case and = 0x50
  case xor = 0xa0
  case fetchAdd = 0x01
  case fetchOr = 0x41
  case fetchAnd = 0x51
  case fetchXor = 0xa1
  /// Exchange; always fetches.
  case exchange = 0xe1
  /// Compare with R0 and exchange; always fetches into R0.
  case compareExchange = 0xf1

  /// Whether the old value is written back to a register.
  public var fetches: Bool { rawValue & 0x01 != 0 }
}

/// The source field of an `ld_imm64` instruction: what its 64-bit immediate
/// means (RFC 9669, section 5.4).
public enum ImmediateLoadKind: UInt8, Sendable, CaseIterable {
  /// A plain 64-bit constant.
  case value = 0
  /// A map, by file descriptor (`BPF_PSEUDO_MAP_FD`).
  case mapByFD = 1
  /// The address of a map's value, by file descriptor (`BPF_PSEUDO_MAP_VALUE`).
  case mapValueByFD = 2
  /// The address of a kernel variable, by BTF id (`BPF_PSEUDO_BTF_ID`).
  case variableAddress = 3
  /// The address of a subprogram (`BPF_PSEUDO_FUNC`).
  case codeAddress = 4
  /// A map, by index into the program's map table (`BPF_PSEUDO_MAP_IDX`).
  case mapByIndex = 5
  /// The address of a map's value, by index (`BPF_PSEUDO_MAP_IDX_VALUE`).
  case mapValueByIndex = 6
}
