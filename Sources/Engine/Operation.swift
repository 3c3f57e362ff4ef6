/// The engine's internal operation code: one case per distinct behaviour,
/// so that variants the ISA encodes in the offset or immediate (`sdiv`,
/// `movsx`, byte-swap widths, atomic kinds, helper vs local call) are
/// resolved once, when the program is prepared, and the interpreter's
/// switch dispatches on a single byte.
enum Operation: UInt8 {
  // 64-bit arithmetic, immediate (K) and register (X) operand.
  case add64K, add64X, sub64K, sub64X, mul64K, mul64X, div64K, div64X, sdiv64K, sdiv64X
  case or64K, or64X, and64K, and64X, lsh64K, lsh64X, rsh64K, rsh64X, neg64
  case mod64K, mod64X, smod64K, smod64X, xor64K, xor64X, mov64K, mov64X
  case movsx8To64, movsx16To64, movsx32To64, arsh64K, arsh64X
  // 32-bit arithmetic (results zero-extended).
  case add32K, add32X, sub32K, sub32X, mul32K, mul32X, div32K, div32X, sdiv32K, sdiv32X
  case or32K, or32X, and32K, and32X, lsh32K, lsh32X, rsh32K, rsh32X, neg32
  case mod32K, mod32X, smod32K, smod32X, xor32K, xor32X, mov32K, mov32X
  case movsx8To32, movsx16To32, arsh32K, arsh32X
  // Byte order.
  case toLittle16, toLittle32, toLittle64, swap16, swap32, swap64
  // Jumps: `offset` holds the absolute target slot.
  case ja
  case jeqK, jeqX, jgtK, jgtX, jgeK, jgeX, jsetK, jsetX, jneK, jneX
  case jsgtK, jsgtX, jsgeK, jsgeX, jltK, jltX, jleK, jleX, jsltK, jsltX, jsleK, jsleX
  case jeq32K, jeq32X, jgt32K, jgt32X, jge32K, jge32X, jset32K, jset32X, jne32K, jne32X
  case jsgt32K, jsgt32X, jsge32K, jsge32X, jlt32K, jlt32X, jle32K, jle32X
  case jslt32K, jslt32X, jsle32K, jsle32X
  case callHelper, callLocal, tailCall, exit
  /// `callx`: calls the helper whose id is in `dst`.
  case callRegister
  // Memory.
  case loadByte, loadHalf, loadWord, loadDouble
  case loadSignedByte, loadSignedHalf, loadSignedWord
  case storeImmediateByte, storeImmediateHalf, storeImmediateWord, storeImmediateDouble
  case storeByte, storeHalf, storeWord, storeDouble
  case atomicAdd32, atomicOr32, atomicAnd32, atomicXor32
  case atomicFetchAdd32, atomicFetchOr32, atomicFetchAnd32, atomicFetchXor32
  case atomicExchange32, atomicCompareExchange32
  case atomicAdd64, atomicOr64, atomicAnd64, atomicXor64
  case atomicFetchAdd64, atomicFetchOr64, atomicFetchAnd64, atomicFetchXor64
  case atomicExchange64, atomicCompareExchange64
  case loadImmediate64
  case packetLoadAbsoluteByte, packetLoadAbsoluteHalf, packetLoadAbsoluteWord
  case packetLoadIndirectByte, packetLoadIndirectHalf, packetLoadIndirectWord
  /// The second slot of `ld_imm64`, and the sentinel after the last slot:
  /// reaching it means control fell off the end.
  case trap
}

/// One prepared instruction: 16 bytes, no references.
struct Slot {
  var operation: Operation
  var dst: UInt8
  var src: UInt8
  /// Memory displacement, absolute jump/call target, or the original slot
  /// index for traps.
  var offset: Int32
  /// Sign-extended immediate; the full constant for `ld_imm64`; helper id.
  var immediate: Int64

  init(
    _ operation: Operation, dst: UInt8 = 0, src: UInt8 = 0, offset: Int32 = 0, immediate: Int64 = 0
  ) {
    self.operation = operation
    self.dst = dst
    self.src = src
    self.offset = offset
    self.immediate = immediate
  }
}
