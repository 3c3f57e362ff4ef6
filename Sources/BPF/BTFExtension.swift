/// What this reader needs from `.BTF.ext`: where the CO-RE relocations are.
///
/// Function and line information only describe the code for the verifier
/// and tools; they are skipped. CO-RE relocations change the code, and this
/// reader does not apply them, so the programs they touch are refused.
struct BTFExtension: Sendable {
  /// For each section name, the byte offsets of instructions that carry a
  /// CO-RE relocation.
  let coreRelocations: [String: [UInt64]]

  /// Parses the header and the CO-RE relocation records of `.BTF.ext`,
  /// whose section names are offsets into `btf`'s strings.
  init(_ data: ByteView, btf: BTF?) throws(BPFObjectError) {
    let file = data.file
    func invalid(_ reason: String) -> BPFObjectError {
      .invalidBTF(file: file, section: ".BTF.ext", reason: reason)
    }
    guard data.count >= 24 else {
      throw invalid("header needs 24 bytes, the section has \(data.count)")
    }
    let magic = try data.u16(0)
    guard magic == BTF.magic else {
      throw invalid("bad magic 0x\(String(magic, radix: 16)) (expected 0xeb9f)")
    }
    let headerLength = UInt64(try data.u32(4))
    guard headerLength >= 24, headerLength <= UInt64(data.count) else {
      throw invalid("header length \(headerLength) is outside 24...\(data.count)")
    }
    guard headerLength >= 32 else {
      coreRelocations = [:]
      return
    }
    let offset = UInt64(try data.u32(24))
    let length = UInt64(try data.u32(28))
    guard length > 0 else {
      coreRelocations = [:]
      return
    }
    guard data.contains(offset: headerLength + offset, length: length) else {
      throw invalid(
        "CO-RE relocation records (offset \(offset), length \(length)) are out of bounds")
    }
    guard let btf else { throw invalid("CO-RE relocations need a .BTF section, and there is none") }
    let records = try data.window(
      offset: headerLength + offset, length: length, region: ".BTF.ext CO-RE relocations")
    let recordSize = Int(try records.u32(0))
    guard recordSize >= 16, recordSize % 4 == 0 else {
      throw invalid(
        "CO-RE relocation record size \(recordSize) is not a multiple of 4 of at least 16")
    }
    var result: [String: [UInt64]] = [:]
    var position = 4
    while position < records.count {
      let name = try btf.string(at: try records.u32(position))
      let count = Int(try records.u32(position + 4))
      position += 8
      guard records.contains(offset: UInt64(position), length: UInt64(count) * UInt64(recordSize))
      else {
        throw invalid(
          "\(count) CO-RE relocations for section '\(name)' run past the end of the records")
      }
      for index in 0..<count {
        result[name, default: []].append(UInt64(try records.u32(position + index * recordSize)))
      }
      position += count * recordSize
    }
    coreRelocations = result
  }
}
