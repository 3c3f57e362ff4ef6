import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A bounds-checked, little-endian window onto part of an object file.
///
/// Every read names the region it reads from, so that a truncated or
/// corrupted file produces an error that says where, never a trap. Offsets
/// are relative to the window's start; arithmetic on values taken from the
/// file is done in `Int` after range checks, so it cannot overflow.
struct ByteView: Sendable {
  /// The whole file.
  let bytes: [UInt8]
  /// The file name, for messages.
  let file: String
  /// What this window holds, for messages (`section header 3`, `.BTF`).
  let region: String
  /// Offset of the window in `bytes`.
  let base: Int
  /// Length of the window.
  let count: Int

  /// A window onto the whole file.
  init(bytes: [UInt8], file: String) {
    self.init(bytes: bytes, file: file, region: "file", base: 0, count: bytes.count)
  }

  private init(bytes: [UInt8], file: String, region: String, base: Int, count: Int) {
    self.bytes = bytes
    self.file = file
    self.region = region
    self.base = base
    self.count = count
  }

  /// Whether `length` bytes at `offset` lie inside the window.
  func contains(offset: UInt64, length: UInt64) -> Bool {
    let (end, overflow) = offset.addingReportingOverflow(length)
    return !overflow && end <= UInt64(count)
  }

  /// A sub-window of `length` bytes at `offset`, named `region`.
  func window(offset: UInt64, length: UInt64, region: String) throws(BPFObjectError) -> ByteView {
    guard contains(offset: offset, length: length) else {
      throw .truncated(
        file: file, region: region, offset: offset, length: length, available: UInt64(count))
    }
    return ByteView(
      bytes: bytes, file: file, region: region, base: base + Int(offset), count: Int(length))
  }

  /// The window's bytes.
  var contents: ArraySlice<UInt8> { bytes[base..<(base + count)] }

  private func check(_ offset: Int, _ length: Int) throws(BPFObjectError) {
    guard offset >= 0, contains(offset: UInt64(offset), length: UInt64(length)) else {
      throw .truncated(
        file: file, region: region, offset: UInt64(max(offset, 0)), length: UInt64(length),
        available: UInt64(count))
    }
  }

  /// The byte at `offset`.
  func u8(_ offset: Int) throws(BPFObjectError) -> UInt8 {
    try check(offset, 1)
    return bytes[base + offset]
  }

  /// The little-endian `UInt16` at `offset`.
  func u16(_ offset: Int) throws(BPFObjectError) -> UInt16 {
    try check(offset, 2)
    let start = base + offset
    return UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
  }

  /// The little-endian `UInt32` at `offset`.
  func u32(_ offset: Int) throws(BPFObjectError) -> UInt32 {
    try check(offset, 4)
    let start = base + offset
    var value: UInt32 = 0
    for byte in 0..<4 { value |= UInt32(bytes[start + byte]) << (8 * byte) }
    return value
  }

  /// The little-endian `UInt64` at `offset`.
  func u64(_ offset: Int) throws(BPFObjectError) -> UInt64 {
    try check(offset, 8)
    let start = base + offset
    var value: UInt64 = 0
    for byte in 0..<8 { value |= UInt64(bytes[start + byte]) << (8 * byte) }
    return value
  }

  /// The NUL-terminated string at `offset`, or `nil` when `offset` is
  /// outside the window or no NUL ends the string inside it.
  func string(at offset: UInt64) -> String? {
    guard offset < UInt64(count) else { return nil }
    let start = base + Int(offset)
    let end = base + count
    guard let nul = bytes[start..<end].firstIndex(of: 0) else { return nil }
    return String(decoding: bytes[start..<nul], as: UTF8.self)
  }
}

extension ByteView {
  /// The bytes of the file at `path`, or an error naming it and the cause
  /// in plain words (the system's message for the errno, or "is a
  /// directory").
  static func contents(ofFile path: String) throws(BPFObjectError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .unreadable(file: path, reason: Self.reason(errno)) }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw .unreadable(file: path, reason: Self.reason(errno))
    }
    guard status.st_mode & S_IFMT == S_IFREG else {
      throw .unreadable(
        file: path,
        reason: status.st_mode & S_IFMT == S_IFDIR ? "is a directory" : "not a regular file")
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count == 0 { return bytes }
      if count < 0 {
        if errno == EINTR { continue }
        throw .unreadable(file: path, reason: Self.reason(errno))
      }
      bytes.append(contentsOf: chunk[..<count])
    }
  }

  /// The system's description of `code`, lower-cased as the rest of a
  /// message ("no such file or directory").
  private static func reason(_ code: Int32) -> String {
    let text = String(cString: strerror(code))
    return text.prefix(1).lowercased() + text.dropFirst()
  }
}
