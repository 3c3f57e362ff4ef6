import BPF
import TestSupport
import Testing

@testable import Engine

/// Seeded random programs whose subprogram reads and writes through the
/// packet pointer its call sites pass, with or without a guard in the
/// caller, a second call with another offset or a stack pointer, and a
/// read through the caller's `data` after the calls; run on a context
/// whose `data` and `data_end` are honest, short or lying. The JIT's
/// result, fault and instruction count are the interpreter's
/// (``PacketRanges``: ranges into subprograms, one guard per data_end).
@Suite struct SubprogramPacketRangeFuzzTests {
  /// A compare that leaves for `out` unless `pointer` (r3) is at most
  /// `data_end` (r2): `r3 > r2`, `r2 < r3`, or `r3 >= r2` (strict).
  static func compare(_ form: Int, skip: Int16) -> Instruction {
    switch form {
    case 0: .jump(.jgt, .r3, .r2, offset: skip)
    case 1: .jump(.jlt, .r2, .r3, offset: skip)
    default: .jump(.jge, .r3, .r2, offset: skip)
    }
  }

  static func program(_ random: inout SeededRandom) -> [Instruction] {
    func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    // sub: per block `r3 = r1 + bytes; if r3 > r2 goto out; r4 = *(r1 +
    // offset); r0 += r4` and maybe a byte store back; out: exit.
    var sub: [Instruction] = [.move(.r0, immediate: 0)]
    var compares: [Int] = []
    for _ in 0..<int(1...4) {
      let bytes = int(1...24)
      let size = [AccessSize.byte, .halfWord, .word, .doubleWord].filter { $0.bytes <= bytes }
        .randomElement(using: &random)!
      let offset = int(0...(bytes - size.bytes))
      sub += [.move(.r3, .r1), .add(.r3, immediate: Int32(bytes))]
      compares.append(sub.count)
      sub += [
        compare(int(0...2), skip: 0), .load(size, .r4, from: .r1, offset: Int16(offset)),
        .arithmetic(.add, .r0, .r4),
      ]
      if int(0...2) == 0 { sub.append(.store(.byte, .r0, to: .r1, offset: Int16(offset))) }
    }
    sub.append(.exit)
    for index in compares {
      sub[index].offset = Int16(sub.count - 1 - index - 1)
    }
    // main.
    let guarded = int(0...1) == 1
    let guardBytes = int(1...40)
    var main: [Instruction] = [
      .load(.word, .r2, from: .r1, offset: 0), .load(.word, .r3, from: .r1, offset: 4),
      .move(.r6, .r2), .move(.r7, .r3),
    ]
    var drops: [Int] = []
    if guarded {
      main += [.move(.r4, .r2), .add(.r4, immediate: Int32(guardBytes))]
      drops.append(main.count)
      main.append(.jump(.jgt, .r4, .r3, offset: 0))
    }
    var calls: [Int] = []
    main += [.move(.r1, .r6), .add(.r1, immediate: Int32(int(0...20))), .move(.r2, .r7)]
    calls.append(main.count)
    main += [.call(local: 0), .move(.r8, .r0)]
    switch int(0...2) {
    case 0:
      main += [.move(.r1, .r6), .add(.r1, immediate: Int32(int(0...20))), .move(.r2, .r7)]
      calls.append(main.count)
      main += [.call(local: 0), .arithmetic(.add, .r0, .r8)]
    case 1:
      main += [.move(.r1, .r10), .add(.r1, immediate: -32), .move(.r2, .r7)]
      calls.append(main.count)
      main += [.call(local: 0), .arithmetic(.add, .r0, .r8)]
    default:
      break
    }
    if int(0...1) == 1 {
      let offset = guarded ? int(0...(guardBytes - 1)) : int(0...40)
      main += [.load(.byte, .r5, from: .r6, offset: Int16(offset)), .arithmetic(.add, .r0, .r5)]
    }
    main.append(.exit)
    let drop = main.count
    main += [.move(.r0, immediate: 99), .exit]
    for index in drops { main[index].offset = Int16(drop - index - 1) }
    for index in calls { main[index].immediate = Int32(main.count - index - 1) }
    return main + sub
  }

  @Test func theJITRunsCalleesLikeTheInterpreter() throws {
    var random = SeededRandom(state: 0x5eed_0022)
    var proven = 0
    for round in 0..<400 {
      let instructions = Self.program(&random)
      let ranges = try PacketRangeTests.ranges(instructions)
      if !ranges.coveredSites.isEmpty { proven += 1 }
      // data inside the 96-byte region, data_end honest, short, or past
      // the region (a lie).
      let data = Int64.random(in: 0...90, using: &random)
      let end = [data + Int64.random(in: 0...40, using: &random), 96, 200, data - 1][round % 4]
      let interpreted = try PacketRangeTests.outcome(
        instructions, engine: .interpreter, data: data, end: end)
      let compiled = try PacketRangeTests.outcome(instructions, engine: .jit, data: data, end: end)
      #expect(compiled == interpreted, "round \(round): data \(data), end \(end)")
    }
    // The programs exercise what they are for: compares a guard covers.
    #expect(proven > 100)
  }
}
