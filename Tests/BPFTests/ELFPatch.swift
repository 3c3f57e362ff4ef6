/// Edits the bytes of an ELF64 little-endian object for tests, without
/// going through the reader under test: finds section headers by name and
/// overwrites fields in place.
struct ELFPatch {
  var bytes: [UInt8]

  init(_ bytes: [UInt8]) { self.bytes = bytes }

  func read(_ offset: Int, _ width: Int) -> UInt64 {
    (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }

  mutating func write(_ offset: Int, _ width: Int, _ value: UInt64) {
    for index in 0..<width {
      bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
  }

  var sectionHeaderOffset: Int { Int(read(40, 8)) }
  var sectionCount: Int { Int(read(60, 2)) }

  /// File offset of section header `index`.
  func header(_ index: Int) -> Int { sectionHeaderOffset + 64 * index }

  /// The index of the section named `name`.
  func section(named name: String) -> Int? {
    let names = Int(read(header(Int(read(62, 2))) + 24, 8))
    return (0..<sectionCount).first { index in
      let start = names + Int(read(header(index), 4))
      let end = bytes[start...].firstIndex(of: 0) ?? start
      return String(decoding: bytes[start..<end], as: UTF8.self) == name
    }
  }

  /// File offset of the contents of the section named `name`.
  func contents(of name: String) -> Int? {
    section(named: name).map { Int(read(header($0) + 24, 8)) }
  }

  // Section header field offsets.
  static let nameField = 0
  static let offsetField = 24
  static let sizeField = 32
}
