/// The text `bstr_printf` makes of a checked format and its captured
/// arguments (lib/vsprintf.c), into the kernel's 1024-byte buffer: at most
/// ``capacity`` bytes are kept, and ``length`` counts what the whole text
/// would have had (what `bpf_trace_printk` returns).
struct TraceText {
  /// `MAX_BPRINTF_BUF` less the terminating NUL.
  static let capacity = 1023
  /// `FIELD_WIDTH_MAX`: widths above it are saturated (the kernel warns).
  static let widthLimit = (1 << 23) - 1

  /// The bytes kept (at most ``capacity``).
  private(set) var bytes: [UInt8] = []
  /// The length of the whole text.
  private(set) var length = 0

  /// The trace line: the kept bytes up to the first NUL (a `%c` of 0
  /// ends the line, as in the kernel's trace event).
  var line: ArraySlice<UInt8> { bytes[..<(bytes.firstIndex(of: 0) ?? bytes.count)] }

  mutating func put(_ byte: UInt8) {
    if bytes.count < Self.capacity { bytes.append(byte) }
    length &+= 1
  }

  mutating func put<Bytes: Collection<UInt8>>(_ text: Bytes) {
    bytes.append(contentsOf: text.prefix(Self.capacity - bytes.count))
    length &+= text.count
  }

  /// `count` copies of `byte`, counted without being written past the buffer.
  mutating func pad(_ byte: UInt8, _ count: Int) {
    guard count > 0 else { return }
    let kept = min(count, Self.capacity - bytes.count)
    if kept > 0 { bytes.append(contentsOf: repeatElement(byte, count: kept)) }
    length &+= count
  }

  /// One conversion's flags and width.
  struct Specification {
    var left = false
    var plus = false
    var space = false
    var zero = false
    var width = 0
  }

  /// Formats `format` (the bytes before its NUL) with `arguments`.
  static func format(_ format: UnsafeRawBufferPointer, _ arguments: TraceArguments) -> TraceText {
    var text = TraceText()
    var values = arguments.values.makeIterator()
    let count = format.count
    func at(_ index: Int) -> UInt8 { index < count ? format[index] : 0 }
    var i = 0
    while i < count {
      let byte = format[i]
      guard byte == UInt8(ascii: "%") else {
        text.put(byte)
        i += 1
        continue
      }
      let start = i
      i += 1
      if at(i) == UInt8(ascii: "%") {
        text.put(UInt8(ascii: "%"))
        i += 1
        continue
      }
      var spec = Specification()
      flags: while true {
        switch at(i) {
        case UInt8(ascii: "-"): spec.left = true
        case UInt8(ascii: "+"): spec.plus = true
        case UInt8(ascii: " "): spec.space = true
        case UInt8(ascii: "0"): spec.zero = true
        case UInt8(ascii: "#"): break
        default: break flags
        }
        i += 1
      }
      while TraceCharacter.isDigit(at(i)) {
        spec.width = min(spec.width * 10 + Int(at(i) - UInt8(ascii: "0")), widthLimit)
        i += 1
      }
      if spec.left { spec.zero = false }
      var long = false
      while at(i) == UInt8(ascii: "l") {
        long = true
        i += 1
      }
      let conversion = at(i)
      i += 1
      let value = values.next()
      switch conversion {
      case UInt8(ascii: "d"), UInt8(ascii: "i"), UInt8(ascii: "u"), UInt8(ascii: "x"),
        UInt8(ascii: "X"):
        var raw: UInt64 = 0
        if case .integer(let number) = value { raw = number }
        text.number(raw, conversion: conversion, long: long, spec)
      case UInt8(ascii: "c"):
        var character: UInt8 = 0
        if case .character(let byte) = value { character = byte }
        text.padded([character], spec)
      case UInt8(ascii: "s"):
        var string: [UInt8] = []
        if case .text(let bytes) = value { string = bytes }
        text.padded(string, spec)
      case UInt8(ascii: "p"):
        // The extension letters after %p are consumed, as bstr_printf does.
        let extensionStart = i
        while TraceCharacter.isAlphanumeric(at(i)) { i += 1 }
        let kind = extensionStart < count ? at(extensionStart) : 0
        switch value {
        case .text(let bytes): text.padded(bytes, spec)
        case .pointer(let address):
          let digits = Array(String(address, radix: 16).utf8)
          let rendered =
            kind == UInt8(ascii: "s") || kind == UInt8(ascii: "S")
            ? Array("0x".utf8) + digits
            : [UInt8](repeating: UInt8(ascii: "0"), count: 16 - digits.count) + digits
          text.padded(rendered, spec)
        default: text.padded([], spec)
        }
      default:
        // Not a conversion the check let through: printed as written.
        text.put(format[start..<min(i, count)])
      }
    }
    return text
  }

  /// `number()`: sign, zero or space padding, digits.
  private mutating func number(
    _ raw: UInt64, conversion: UInt8, long: Bool, _ spec: Specification
  ) {
    var sign: UInt8?
    var magnitude: UInt64
    let signed = conversion == UInt8(ascii: "d") || conversion == UInt8(ascii: "i")
    if signed {
      let value = long ? Int64(bitPattern: raw) : Int64(Int32(truncatingIfNeeded: raw))
      magnitude = value.magnitude
      if value < 0 {
        sign = UInt8(ascii: "-")
      } else if spec.plus {
        sign = UInt8(ascii: "+")
      } else if spec.space {
        sign = UInt8(ascii: " ")
      }
    } else {
      magnitude = long ? raw : raw & 0xffff_ffff
    }
    let hex = conversion == UInt8(ascii: "x") || conversion == UInt8(ascii: "X")
    let digits = Array(
      String(magnitude, radix: hex ? 16 : 10, uppercase: conversion == UInt8(ascii: "X")).utf8)
    var width = spec.width - digits.count - (sign == nil ? 0 : 1)
    if !spec.left && !spec.zero {
      pad(UInt8(ascii: " "), width)
      width = 0
    }
    if let sign { put(sign) }
    if !spec.left {
      pad(UInt8(ascii: "0"), width)
      width = 0
    }
    put(digits)
    pad(UInt8(ascii: " "), width)
  }

  /// A string, character or formatted value, padded with spaces to the width.
  private mutating func padded(_ value: [UInt8], _ spec: Specification) {
    let width = spec.width - value.count
    if !spec.left { pad(UInt8(ascii: " "), width) }
    put(value)
    if spec.left { pad(UInt8(ascii: " "), width) }
  }

  /// `%pB` of an address no kernel symbol has: `0x` and the hex value.
  static func symbol(_ address: UInt64) -> [UInt8] {
    Array(("0x" + String(address, radix: 16)).utf8)
  }

  /// `%pI4`/`%pi4` of 4 bytes and `%pI6`/`%pi6` of 16: dotted decimal
  /// (zero-padded to three digits for `i`), or eight colon-separated
  /// groups of four hex digits (32 digits without colons for `i`).
  static func address(_ bytes: [UInt8], padded: Bool) -> [UInt8] {
    if bytes.count == 4 {
      return Array(
        bytes.map { byte in
          let digits = String(byte)
          return padded ? String(repeating: "0", count: 3 - digits.count) + digits : digits
        }.joined(separator: ".").utf8)
    }
    let groups = stride(from: 0, to: bytes.count, by: 2).map { index in
      let value = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
      let digits = String(value, radix: 16)
      return String(repeating: "0", count: 4 - digits.count) + digits
    }
    return Array(groups.joined(separator: padded ? "" : ":").utf8)
  }
}
