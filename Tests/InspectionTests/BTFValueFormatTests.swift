import BPF
import Testing

@testable import Inspection

/// Reading and writing map keys and values by BTF type: what `map dump`
/// prints, `map update` reads back; mismatches name the field and type.
struct BTFValueFormatTests {
  /// `struct record { char name[8]; __u32 ports[2]; __u32 flag:3, level:5; __s16 delta; }`.
  static let recordBTF: BTF = {
    var strings: [UInt8] = [0]
    func name(_ text: String) -> UInt32 {
      defer { strings += Array(text.utf8) + [0] }
      return UInt32(strings.count)
    }
    func kind(_ kind: BTFKind, vlen: UInt32 = 0, flag: Bool = false) -> UInt32 {
      UInt32(kind.rawValue) << 24 | vlen | (flag ? 1 << 31 : 0)
    }
    var types: [UInt32] = []
    types += [name("char"), kind(.integer), 1, 2 << 24 | 8]  // [1] char
    types += [name("__u32"), kind(.integer), 4, 32]  // [2] __u32
    types += [0, kind(.array), 0, 1, 2, 8]  // [3] char[8]
    types += [0, kind(.array), 0, 2, 2, 2]  // [4] __u32[2]
    types += [name("__s16"), kind(.integer), 2, 1 << 24 | 16]  // [5] __s16
    types += [name("record"), kind(.structure, vlen: 5, flag: true), 24]  // [6]
    types += [name("name"), 3, 0, name("ports"), 4, 64]
    types += [name("flag"), 2, 3 << 24 | 128, name("level"), 2, 5 << 24 | 131]
    types += [name("delta"), 5, 160]
    let typeBytes = types.flatMap { word in
      (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
    }
    func le32(_ value: Int) -> [UInt8] {
      (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
    let header =
      [0x9f, 0xeb, 1, 0] + le32(24) + le32(0) + le32(typeBytes.count) + le32(typeBytes.count)
      + le32(strings.count)
    return try! BTF(bytes: header + typeBytes + strings, name: "record")
  }()

  static let format = BTFValueFormat(btf: recordBTF)

  @Test func structsArraysStringsAndBitfieldsRoundTrip() throws {
    let written = "{name: \"eth0\", ports: [80, 443], flag: 5, level: 17, delta: -3}"
    let bytes = try Self.format.encode(written, type: 6, size: 24, field: "value")
    #expect(bytes.count == 24)
    #expect(Array(bytes[0..<5]) == Array("eth0\0".utf8))
    #expect(bytes[16] == 5 | 17 << 3)
    let value = Self.format.decode(bytes, type: 6)
    #expect(value[member: "name"] == .text("eth0"))
    #expect(value[member: "ports"] == .array([.unsigned(80), .unsigned(443)]))
    #expect(value[member: "flag"] == .unsigned(5))
    #expect(value[member: "level"] == .unsigned(17))
    #expect(value[member: "delta"] == .signed(-3))
    #expect(value.description == written)
    // What is printed reads back to the same bytes.
    #expect(try Self.format.encode(value.description, type: 6, size: 24, field: "value") == bytes)
  }

  @Test func mismatchesNameTheFieldAndType() {
    func failure(_ text: String) -> String {
      do {
        _ = try Self.format.encode(text, type: 6, size: 24, field: "value")
        return "accepted"
      } catch {
        return error.description
      }
    }
    #expect(
      failure("{ports: [1, 2, 3]}")
        == "value.ports: expected __u32 (unsigned 32-bit integer)[2], got 3 elements")
    #expect(
      failure("{ports: [1, x]}")
        == "value.ports[1]: expected __u32 (unsigned 32-bit integer), got \"x\"")
    #expect(
      failure("{delta: 40000}")
        == "value.delta: expected __s16 (signed 16-bit integer), got \"40000\"")
    #expect(failure("{flag: 8}") == "value.flag: expected a 3-bit bitfield integer, got \"8\"")
    #expect(failure("{name: \"much too long\"}").hasPrefix("value.name: expected char"))
    #expect(failure("{nope: 1}").contains("(name, ports, flag, level, delta)"))
    #expect(failure("{name: ").hasPrefix("cannot read"))
    #expect(
      failure("hex:00") == "value: expected hex:BYTES with 24 bytes (48 hex digits), got \"hex:00\""
    )
  }

  @Test func countersAreShownByName() throws {
    let types = CountersBTF.types
    let key = try types.format.encode("XDP_TX", type: types.keyType, size: 4, field: "key")
    #expect(key == [3, 0, 0, 0])
    let value = types.format.decode(
      [1, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0], type: types.valueType)
    #expect(value.description == "{packets: 1, bytes: 64}")
    #expect(types.format.decode([9, 0, 0, 0], type: types.keyType) == .unsigned(9))
    #expect(value.adding(value)[member: "bytes"] == .unsigned(128))
  }

  @Test func withoutBTFValuesAreHexOrIntegers() throws {
    let format = BTFValueFormat(btf: nil)
    #expect(format.decode([1, 2], type: nil).description == "hex:0102")
    #expect(try format.encode("0x0102", type: nil, size: 2, field: "key") == [2, 1])
    #expect(try format.encode("hex:0a0b0c", type: nil, size: 3, field: "key") == [10, 11, 12])
    #expect(throws: BTFValueError.self) {
      try format.encode("5", type: nil, size: 3, field: "key")
    }
    #expect(throws: BTFValueError.self) {
      try format.encode("256", type: nil, size: 1, field: "key")
    }
  }
}
