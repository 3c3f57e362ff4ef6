import BPF
import Testing

/// ``MapAccessRules`` on input no validator has seen yet (`rewrite` and
/// `check` look at the maps of an object's program as read): registers
/// 11 - 15, jumps and calls out of the program, map indices past the
/// table give no refusal of theirs and never trap.
struct MapAccessRulesTests {
  static let maps = [
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 4)
  ]

  @Test func invalidInputNeverTraps() {
    let r15 = Register(rawValue: 15)
    let programs: [[Instruction]] = [
      [.move(r15, immediate: 1), .store(.word, immediate: 0, to: r15, offset: 0), .exit],
      [.load(.word, .r1, from: r15, offset: 0), .move(Register(rawValue: 11), .r1), .exit],
      [.jump(offset: 100), .call(local: -50), .exit],
      Instruction.loadImmediate64(.r1, 9, kind: .mapByIndex) + [
        .call(helper: HelperFunction.mapUpdateElement.rawValue), .exit,
      ],
      // A wide load cut short.
      [Instruction.loadImmediate64(.r1, 0, kind: .mapValueByIndex)[0]],
    ]
    for program in programs {
      #expect(MapAccessRules.firstRefusal(in: program, maps: Self.maps) == nil)
    }
    // A store through register 15 holding the value's pointer still counts.
    let store =
      Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [
        .store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10),
        .add(.r2, immediate: -4), .call(helper: HelperFunction.mapLookupElement.rawValue),
        .jump(.jeq, .r0, immediate: 0, offset: 2), .move(r15, .r0),
        .store(.word, immediate: 1, to: r15, offset: 0), .exit,
      ]
    #expect(
      MapAccessRules.firstRefusal(in: store, maps: Self.maps)?.reason
        == "write into map forbidden, value_size=4 off=0 size=4")
  }

  /// R0 = lookup(map 0, key 0) (slots 0 - 5), then `body` from slot 6.
  static func unchecked(_ map: Int, _ body: [Instruction]) -> [Instruction] {
    [.store(.word, immediate: 0, to: .r10, offset: -4), .move(.r2, .r10), .add(.r2, immediate: -4)]
      + Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex) + [
        .call(helper: HelperFunction.mapLookupElement.rawValue)
      ] + body + [.move(.r0, immediate: 2), .exit]
  }

  /// A lookup's result before its null check is the verifier's
  /// `map_value_or_null`: an access or arithmetic through it is refused
  /// for that, before the map's flags, on any map; after the check (of it
  /// or of a copy, spilled or not) it is the value again.
  @Test func aLookupNotCheckedForNullIsRefusedAsTheVerifierRefusesIt() {
    let maps =
      Self.maps + [
        MapDefinition(name: "flows", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1),
        MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 8, maxEntries: 1),
      ]
    func refusal(_ body: [Instruction], map: Int = 0) -> String? {
      MapAccessRules.firstRefusal(in: Self.unchecked(map, body), maps: maps)?.description
    }
    let prefix = "the kernel refuses this in an XDP program: "
    #expect(
      refusal([.store(.word, immediate: 7, to: .r0, offset: 0)])
        == "instruction 6: \(prefix)R0 invalid mem access 'map_value_or_null' (map ports)")
    #expect(
      refusal([.move(.r7, .r0), .load(.word, .r1, from: .r7, offset: 0)], map: 1)
        == "instruction 7: \(prefix)R7 invalid mem access 'map_value_or_null' (map flows)")
    #expect(
      refusal([.add(.r0, immediate: 2)], map: 1)
        == "instruction 6: \(prefix)R0 pointer arithmetic on map_value_or_null prohibited,"
        + " null-check it first (map flows)")
    // Checked through a spilled copy: the value, so the DEVMAP's flags speak.
    let spilled: [Instruction] = [
      .store(.doubleWord, .r0, to: .r10, offset: -16), .jump(.jne, .r0, immediate: 0, offset: 1),
      .exit, .load(.doubleWord, .r3, from: .r10, offset: -16),
      .store(.word, immediate: 1, to: .r3, offset: 0),
    ]
    #expect(
      refusal(spilled)
        == "instruction 10: \(prefix)write into map forbidden, value_size=4 off=0 size=4"
        + " (map ports)")
    #expect(refusal(spilled, map: 1) == nil)
    // An array's lookup is left to its flags (the verifier elides the
    // null check of a constant key in bounds; keys are not followed here).
    #expect(refusal([.store(.word, immediate: 1, to: .r0, offset: 0)], map: 2) == nil)
    // A 32-bit comparison is no null check.
    #expect(
      refusal(
        [
          .jump(.jeq, .r0, immediate: 0, offset: 1, wide: false),
          .load(.word, .r3, from: .r0, offset: 0),
        ],
        map: 1)
        == "instruction 7: \(prefix)R0 invalid mem access 'map_value_or_null' (map flows)")
  }
}
