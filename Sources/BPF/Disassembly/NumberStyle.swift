/// How the disassembler writes immediates, offsets and jump distances.
///
/// LLVM 21's `llvm-objdump` prints hexadecimal by default (`r3 += 0x14`,
/// `goto +0xe`); `--no-print-imm-hex` gives decimal (`r3 += 20`, `goto +14`).
/// Both write negative numbers with a minus sign and a magnitude
/// (`-0x4`, never `0xfffffffc`).
public enum NumberStyle: Sendable, Hashable {
  /// `0x14`, `-0x4`: what `llvm-objdump -d` prints by default.
  case hexadecimal
  /// `20`, `-4`: what `llvm-objdump -d --no-print-imm-hex` prints.
  case decimal

  /// A signed number: `0x14`, `-0x4`.
  func format(_ value: Int64) -> String {
    let sign = value < 0 ? "-" : ""
    return sign + format(magnitude: value.magnitude)
  }

  /// An unsigned number: `0xfffffffd`.
  func format(magnitude value: UInt64) -> String {
    switch self {
    case .hexadecimal: "0x" + String(value, radix: 16)
    case .decimal: String(value)
    }
  }

  /// A signed number that always carries its sign, as jump distances do:
  /// `+0x7`, `-0x3`, `+0`.
  func formatSigned(_ value: Int64) -> String {
    value < 0 ? format(value) : "+" + format(value)
  }
}
