import BPF

/// `bpf_trace_printk(fmt, fmt_size, a, b, c)`: formats like the kernel's
/// `bpf_bprintf_prepare` + `bstr_printf` (conversions `d i u x X c s p %`,
/// `l`/`ll` lengths, `0 + - space` flags and a width) and appends the line
/// to ``Machine/traceLog`` instead of the trace pipe. Returns the length of
/// the formatted text, or -EINVAL for a format the kernel refuses.
extension Machine {
  func tracePrintk(_ index: Int) throws(ExecutionError) -> UInt64 {
    let r = registers
    let size = Int(UInt32(truncatingIfNeeded: r[2]))
    let format = try bytes(at: r[1], count: size, index)
    guard let last = format.last, last == 0 else { return errno(-Errno.invalid) }
    guard
      let text = TraceFormat.render(
        Array(format.dropLast()), arguments: [r[3], r[4], r[5]],
        string: { [addressSpace] address in
          var bytes: [UInt8] = []
          var cursor = address
          while bytes.count < 256, let byte = addressSpace.read(cursor, count: 1)?.first, byte != 0
          {
            bytes.append(byte)
            cursor += 1
          }
          return String(decoding: bytes, as: UTF8.self)
        })
    else { return errno(-Errno.invalid) }
    traceLog.append(text)
    return UInt64(text.utf8.count)
  }
}

/// The printf subset `bpf_trace_printk` accepts.
enum TraceFormat {
  /// The formatted text, or nil when the format is refused (unknown
  /// conversion, more than three arguments).
  static func render(_ format: [UInt8], arguments: [UInt64], string: (UInt64) -> String)
    -> String?
  {
    var output = ""
    var argument = 0
    var i = 0
    func next() -> UInt64? {
      guard argument < arguments.count else { return nil }
      defer { argument += 1 }
      return arguments[argument]
    }
    while i < format.count {
      let byte = format[i]
      i += 1
      guard byte == UInt8(ascii: "%") else {
        output.unicodeScalars.append(Unicode.Scalar(byte))
        continue
      }
      guard i < format.count else { return nil }
      if format[i] == UInt8(ascii: "%") {
        output += "%"
        i += 1
        continue
      }
      var zeroPad = false
      var leftAlign = false
      while i < format.count, "0+- ".utf8.contains(format[i]) {
        if format[i] == UInt8(ascii: "0") { zeroPad = true }
        if format[i] == UInt8(ascii: "-") { leftAlign = true }
        i += 1
      }
      var width = 0
      while i < format.count, format[i] >= UInt8(ascii: "0"), format[i] <= UInt8(ascii: "9") {
        width = width * 10 + Int(format[i] - UInt8(ascii: "0"))
        i += 1
      }
      var longs = 0
      while i < format.count, format[i] == UInt8(ascii: "l") {
        longs += 1
        i += 1
      }
      guard i < format.count, longs <= 2, let value = next() else { return nil }
      let conversion = format[i]
      i += 1
      let wide = longs > 0
      var text: String
      switch conversion {
      case UInt8(ascii: "d"), UInt8(ascii: "i"):
        text = wide ? String(Int64(bitPattern: value)) : String(Int32(truncatingIfNeeded: value))
      case UInt8(ascii: "u"):
        text = wide ? String(value) : String(UInt32(truncatingIfNeeded: value))
      case UInt8(ascii: "x"), UInt8(ascii: "X"):
        text = String(
          wide ? value : UInt64(UInt32(truncatingIfNeeded: value)), radix: 16,
          uppercase: conversion == UInt8(ascii: "X"))
      case UInt8(ascii: "p"):
        text = "0x" + String(value, radix: 16)
      case UInt8(ascii: "c"):
        text = String(Unicode.Scalar(UInt8(truncatingIfNeeded: value)))
      case UInt8(ascii: "s"):
        text = string(value)
      default:
        return nil
      }
      if text.count < width {
        let padding = String(
          repeating: zeroPad && !leftAlign ? "0" : " ", count: width - text.count)
        text = leftAlign ? text + padding : padding + text
      }
      output += text
    }
    return output
  }
}
