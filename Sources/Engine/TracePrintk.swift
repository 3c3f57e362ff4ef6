import BPF
import Glibc

/// `bpf_trace_printk(fmt, fmt_size, a, b, c)` as kernel/trace/bpf_trace.c
/// runs it: the format ends at its first NUL within `fmt_size` bytes,
/// `bpf_bprintf_prepare` checks it and captures at most three arguments
/// (``TraceArguments``), `bstr_printf` formats them into a 1024-byte
/// buffer (``TraceText``), and the helper returns the length the text
/// would have had. The text, cut at 1023 bytes, goes to the machine's
/// ``TraceLog`` ring instead of the trace pipe.
///
/// Every step is bounded whatever the program passes: the format is
/// scanned in place up to its NUL (the scan is helper work charged to the
/// budget), strings are read up to the 512 bytes of the kernel's argument
/// buffer, a width counts its padding without writing it (saturated at
/// the kernel's `FIELD_WIDTH_MAX`, 2^23 - 1), and the text never grows
/// past 1023 bytes.
extension Machine {
  func tracePrintk(_ index: Int) throws(ExecutionError) -> UInt64 {
    let r = registers
    let size = Int(UInt32(truncatingIfNeeded: r[2]))
    // The verifier proves fmt readable for fmt_size bytes.
    let format = try readable(r[1], count: size, index)
    // strnchr: no NUL within fmt_size is -EINVAL. The scan is work: it
    // looks no further than the budget allows.
    let scanned = min(size, helperWorkAllowance)
    let nul = scanned == 0 ? nil : memchr(format.baseAddress!, 0, scanned)
    let formatLength = nul.map { format.baseAddress!.distance(to: UnsafeRawPointer($0)) }
    try chargeHelperWork(bytes: formatLength ?? scanned, index)
    guard let formatLength else {
      if scanned < size {
        throw .instructionBudgetExceeded(index: index, budget: configuration.instructionBudget)
      }
      return errno(-Errno.invalid)
    }
    let text = UnsafeRawBufferPointer(rebasing: format[0..<formatLength])
    let arguments: TraceArguments
    switch TraceArguments.prepare(text, [r[3], r[4], r[5]], memory: addressSpace) {
    case .success(let prepared): arguments = prepared
    case .failure(let refusal): return errno(-refusal.code)
    }
    let output = TraceText.format(text, arguments)
    recordTrace(String(decoding: output.line, as: UTF8.self))
    return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: output.length)))
  }
}

/// Why `bpf_bprintf_prepare` refused a format: its negative errno.
struct TraceRefusal: Error {
  /// `EINVAL` (a bad format) or `ENOSPC` (the arguments do not fit).
  var code: Errno
  static let invalid = TraceRefusal(code: Errno.invalid)
  static let noSpace = TraceRefusal(code: Errno.noSpace)
}

/// The arguments `bpf_bprintf_prepare` captured, in order, and the
/// checks it makes on the way (kernel/bpf/helpers.c).
struct TraceArguments {
  /// One captured argument.
  enum Value {
    /// A number (`%d %i %u %x %X`, with `l`/`ll`): 4 or 8 bytes.
    case integer(UInt64)
    /// A pointer printed as an address (`%p %pK %px %ps %pS`).
    case pointer(UInt64)
    /// `%c`.
    case character(UInt8)
    /// Text made at capture: a string (`%s %pks %pus`) or a formatted
    /// address (`%pI4 %pi4 %pI6 %pi6`, `%pB`).
    case text([UInt8])
  }

  /// `MAX_TRACE_PRINTK_VARARGS`.
  static let limit = 3
  /// `MAX_BPRINTF_BIN_ARGS`: the bytes all captured arguments share.
  static let space = 512

  var values: [Value] = []

  /// Checks `format` (the bytes before its NUL) and captures `raw`'s
  /// values as the conversions ask, reading strings and addresses from
  /// `memory`.
  static func prepare(_ format: UnsafeRawBufferPointer, _ raw: [UInt64], memory: AddressSpace)
    -> Result<TraceArguments, TraceRefusal>
  {
    var prepared = TraceArguments()
    var used = 0
    let count = format.count
    func at(_ index: Int) -> UInt8 { index < count ? format[index] : 0 }
    /// Numbers and pointers: 4-byte aligned, `size` bytes.
    func reserve(_ size: Int) -> Bool {
      used = (used + 3) & ~3
      guard space - used >= size else { return false }
      used += size
      return true
    }
    var i = 0
    while i < count {
      let byte = format[i]
      guard byte < 0x80, TraceCharacter.isPrintable(byte) || TraceCharacter.isSpace(byte) else {
        return .failure(.invalid)
      }
      defer { i += 1 }
      guard byte == UInt8(ascii: "%") else { continue }
      if at(i + 1) == UInt8(ascii: "%") {
        i += 1
        continue
      }
      let spec = prepared.values.count
      guard spec < min(limit, raw.count) else { return .failure(.invalid) }
      let argument = raw[spec]
      i += 1
      while "0+- ".utf8.contains(at(i)) { i += 1 }
      if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(at(i)) {
        i += 1
        while TraceCharacter.isDigit(at(i)) { i += 1 }
      }
      var isString = false
      if at(i) == UInt8(ascii: "p") {
        let next = at(i + 1)
        if (next == UInt8(ascii: "k") || next == UInt8(ascii: "u"))
          && at(i + 2) == UInt8(ascii: "s")
        {
          i += 2
          isString = true
        } else if next == 0 || TraceCharacter.isSpace(next) || TraceCharacter.isPunctuation(next)
          || "KxsS".utf8.contains(next)
        {
          i += 1
          guard reserve(8) else { return .failure(.noSpace) }
          prepared.values.append(.pointer(argument))
          continue
        } else if next == UInt8(ascii: "B") {
          let text = TraceText.symbol(argument)
          used += text.count + 1
          prepared.values.append(.text(text))
          i += 1
          continue
        } else {
          let kind = at(i + 2)
          guard next == UInt8(ascii: "i") || next == UInt8(ascii: "I"),
            kind == UInt8(ascii: "4") || kind == UInt8(ascii: "6")
          else { return .failure(.invalid) }
          i += 2
          let size = kind == UInt8(ascii: "4") ? 4 : 16
          guard space - used >= size else { return .failure(.noSpace) }
          let bytes = memory.read(argument, count: size) ?? [UInt8](repeating: 0, count: size)
          let text = TraceText.address(bytes, padded: next == UInt8(ascii: "i"))
          used += text.count + 1
          prepared.values.append(.text(text))
          continue
        }
      } else if at(i) == UInt8(ascii: "s") {
        isString = true
      }
      if isString {
        let after = at(i + 1)
        guard after == 0 || TraceCharacter.isSpace(after) || TraceCharacter.isPunctuation(after)
        else { return .failure(.invalid) }
        guard used < space else { return .failure(.noSpace) }
        // strncpy_from_kernel_nofault: at most the room left, NUL
        // included; an unreadable byte before the NUL gives "".
        let text = string(at: argument, room: space - used, memory: memory)
        used += (text?.count ?? 0) + 1
        prepared.values.append(.text(text ?? []))
        continue
      }
      if at(i) == UInt8(ascii: "c") {
        guard used < space else { return .failure(.noSpace) }
        used += 1
        prepared.values.append(.character(UInt8(truncatingIfNeeded: argument)))
        continue
      }
      var size = 4
      if at(i) == UInt8(ascii: "l") {
        size = 8
        i += 1
      }
      if at(i) == UInt8(ascii: "l") { i += 1 }
      guard "iduxX".utf8.contains(at(i)) else { return .failure(.invalid) }
      guard reserve(size) else { return .failure(.noSpace) }
      prepared.values.append(.integer(size == 8 ? argument : argument & 0xffff_ffff))
    }
    return .success(prepared)
  }

  /// The string at `address`: its bytes before the NUL, at most
  /// `room - 1`; nil when a byte before them cannot be read.
  private static func string(at address: UInt64, room: Int, memory: AddressSpace) -> [UInt8]? {
    let limit = room - 1
    let available = memory.bytesAvailable(at: address)
    let readable = min(available, limit)
    guard readable > 0, let start = memory.pointer(address, count: readable) else {
      return limit == 0 ? [] : nil
    }
    let bytes = UnsafeRawBufferPointer(start: start, count: readable)
    if let end = bytes.firstIndex(of: 0) { return Array(bytes[..<end]) }
    // No NUL: truncated at the room, or the region ended first (a fault).
    return readable == limit ? Array(bytes) : nil
  }
}

/// The character classes of the kernel's `<linux/ctype.h>` (ASCII only).
enum TraceCharacter {
  static func isPrintable(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7f }
  static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0d) }
  static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
  static func isAlphanumeric(_ byte: UInt8) -> Bool {
    isDigit(byte) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a)
  }
  static func isPunctuation(_ byte: UInt8) -> Bool {
    byte > 0x20 && byte < 0x7f && !isAlphanumeric(byte)
  }
}
