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
        .move(r15, .r0), .store(.word, immediate: 1, to: r15, offset: 0), .exit,
      ]
    #expect(
      MapAccessRules.firstRefusal(in: store, maps: Self.maps)?.reason
        == "write into map forbidden, value_size=4 off=0 size=4")
  }
}
