extension Instruction {
  /// The size of one instruction slot in bytes.
  public static let size = 8

  /// Decodes one slot from eight little-endian bytes starting at `start`.
  ///
  /// Every bit pattern decodes; whether it is a legal instruction is
  /// ``InstructionValidator``'s question.
  public init<Bytes: RandomAccessCollection>(littleEndian bytes: Bytes, at start: Bytes.Index)
  where Bytes.Element == UInt8 {
    func byte(_ n: Int) -> UInt8 { bytes[bytes.index(start, offsetBy: n)] }
    let registers = byte(1)
    self.init(
      opcode: byte(0),
      dst: Register(rawValue: registers & 0x0f),
      src: Register(rawValue: registers >> 4),
      offset: Int16(bitPattern: UInt16(byte(2)) | UInt16(byte(3)) << 8),
      immediate: Int32(
        bitPattern: UInt32(byte(4)) | UInt32(byte(5)) << 8 | UInt32(byte(6)) << 16
          | UInt32(byte(7)) << 24)
    )
  }

  /// The slot's eight bytes, little-endian, as in an object file.
  public var littleEndianBytes: [UInt8] {
    let offsetBits = UInt16(bitPattern: offset)
    let immediateBits = UInt32(bitPattern: immediate)
    return [
      opcode, src.rawValue << 4 | dst.rawValue,
      UInt8(truncatingIfNeeded: offsetBits), UInt8(truncatingIfNeeded: offsetBits >> 8),
      UInt8(truncatingIfNeeded: immediateBits), UInt8(truncatingIfNeeded: immediateBits >> 8),
      UInt8(truncatingIfNeeded: immediateBits >> 16),
      UInt8(truncatingIfNeeded: immediateBits >> 24),
    ]
  }

  /// Decodes a whole instruction stream.
  ///
  /// - Throws: ``InstructionError/truncatedStream(byteCount:)`` when the
  ///   length is not a multiple of eight.
  public static func decode<Bytes: RandomAccessCollection>(littleEndian bytes: Bytes)
    throws(InstructionError)
    -> [Instruction]
  where Bytes.Element == UInt8 {
    guard bytes.count % size == 0 else {
      throw .truncatedStream(byteCount: bytes.count)
    }
    var result: [Instruction] = []
    result.reserveCapacity(bytes.count / size)
    var index = bytes.startIndex
    while index != bytes.endIndex {
      result.append(Instruction(littleEndian: bytes, at: index))
      index = bytes.index(index, offsetBy: size)
    }
    return result
  }

  /// Encodes an instruction stream back to little-endian bytes.
  public static func encode(_ instructions: some Sequence<Instruction>) -> [UInt8] {
    var bytes: [UInt8] = []
    for instruction in instructions { bytes += instruction.littleEndianBytes }
    return bytes
  }
}
