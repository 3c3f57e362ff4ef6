import BPF

/// A seeded generator of well-formed XDP programs for the equivalence
/// property test: what the rewriter must handle, in random combinations.
///
/// Every program keeps the context in R6, `data` in R7, `data_end` in R8
/// and an accumulator in R9 (callee-saved, so helper calls keep them), and
/// starts with the frame's slots zeroed and a packet bounds check, as real
/// XDP programs do (a program that changes maps for an empty frame is not
/// equivalent under the `immediate` bound, whose padding records are empty
/// frames: DifferenceDetectionTests shows that case). Then random blocks:
/// packet reads and writes behind bounds checks, spills and fills, pointers
/// to the stack spilled and filled, map lookups and updates with keys and
/// values on the stack, bpf-to-bpf calls (one subprogram calls the other,
/// and has an exit of its own; each uses its own frame),
/// early exits with every verdict (and values above 4), `redirect` and
/// `redirect_map` exits. The last exit returns the accumulator's low bits.
///
/// About one program in twelve passes a pointer into its frame to a
/// subprogram, which reads and writes through it: the rewriter's stack
/// analysis does not follow pointers into callees, so it must refuse those
/// (``Program/passesFramePointer`` tells the test which to expect).
struct ProgramGenerator {
  private var state: UInt64

  /// The maps every generated program may use, by index.
  static let maps = [
    MapDefinition(name: "counts", type: .array, keySize: 4, valueSize: 8, maxEntries: 8),
    MapDefinition(name: "seen", type: .hash, keySize: 4, valueSize: 8, maxEntries: 16),
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8),
  ]

  init(seed: UInt64) { state = seed }

  private mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }

  private mutating func int(_ range: ClosedRange<Int>) -> Int {
    range.lowerBound + Int(next() % UInt64(range.count))
  }

  private mutating func verdict() -> Int32 { int(0...9) < 9 ? Int32(int(0...4)) : 7 }

  /// One program; `number` names it.
  mutating func program(_ number: Int) -> Program {
    let passesFramePointer = int(0...11) == 0
    let slots = int(0...3) == 0 ? int(20...58) : int(2...8)
    func slot(_ k: Int) -> Int16 { Int16(-8 * k) }
    var code: [Instruction] = [
      .move(.r6, .r1),
      .load(.word, .r7, from: .r6, offset: 0),
      .load(.word, .r8, from: .r6, offset: 4),
      // r9 = rx_queue_index, 0 in every check: a value the stack analysis
      // cannot know, so that no branch on it is provably never taken (a
      // call the analysis proves unreachable passes no frame pointer).
      .load(.word, .r9, from: .r6, offset: 16),
    ]
    for k in 1...slots { code.append(.store(.doubleWord, immediate: 0, to: .r10, offset: slot(k))) }
    var checked = int(1...40)
    code += boundsCheck(checked)
    var callSites: [(index: Int, subprogram: Int)] = []

    for _ in 0..<int(3...14) {
      let k = int(1...slots)
      var k2 = int(1...slots)
      if k2 == k { k2 = k % slots + 1 }
      switch int(0...11) {
      case 0:
        code += [
          .arithmetic(.mul, .r9, immediate: 31),
          .load(.byte, .r3, from: .r7, offset: Int16(int(0...(checked - 1)))),
          .arithmetic(.add, .r9, .r3),
        ]
      case 1:
        checked = min(checked + int(1...40), 120)
        code += boundsCheck(checked)
      case 2:
        code.append(.store(.byte, .r9, to: .r7, offset: Int16(int(0...(checked - 1)))))
      case 3:
        code += [
          .store(.doubleWord, .r9, to: .r10, offset: slot(k)),
          .load(.doubleWord, .r3, from: .r10, offset: slot(k)),
          .add(.r3, immediate: 7),
          .arithmetic(.xor, .r9, .r3),
        ]
      case 4:
        // A stack pointer, spilled and filled, then written and read through.
        code += [
          .move(.r4, .r10),
          .add(.r4, immediate: Int32(slot(k))),
          .store(.doubleWord, .r9, to: .r4, offset: 0),
          .store(.doubleWord, .r4, to: .r10, offset: slot(k2)),
          .load(.doubleWord, .r5, from: .r10, offset: slot(k2)),
          .load(.doubleWord, .r3, from: .r5, offset: 0),
          .add(.r3, immediate: 3),
          .store(.doubleWord, .r3, to: .r5, offset: 0),
          .arithmetic(.add, .r9, .r3),
          .store(.doubleWord, immediate: 0, to: .r10, offset: slot(k2)),
          // The stack analysis takes any stack pointer left in R1-R5 at a
          // bpf-to-bpf call as passed to the callee: clear them.
          .move(.r4, immediate: 0), .move(.r5, immediate: 0),
        ]
      case 5:
        code += [
          .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 7),
          .store(.word, .r3, to: .r10, offset: slot(k)),
          .move(.r2, .r10), .add(.r2, immediate: Int32(slot(k))),
        ]
        code += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
        code += [
          .call(helper: HelperFunction.mapLookupElement.rawValue),
          .jump(.jeq, .r0, immediate: 0, offset: 4),
          .load(.doubleWord, .r3, from: .r0, offset: 0),
          .add(.r3, immediate: 1),
          .store(.doubleWord, .r3, to: .r0, offset: 0),
          .arithmetic(.add, .r9, .r3),
        ]
      case 6:
        code += [
          .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 15),
          .store(.word, .r3, to: .r10, offset: slot(k)),
          .store(.doubleWord, .r9, to: .r10, offset: slot(k2)),
        ]
        code += Instruction.loadImmediate64(.r1, 1, kind: .mapByIndex)
        code += [
          .move(.r2, .r10), .add(.r2, immediate: Int32(slot(k))),
          .move(.r3, .r10), .add(.r3, immediate: Int32(slot(k2))),
          .move(.r4, immediate: 0),
          .call(helper: HelperFunction.mapUpdateElement.rawValue),
          .arithmetic(.add, .r9, .r0),
        ]
      case 7:
        code += [
          .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 15),
          .store(.word, .r3, to: .r10, offset: slot(k)),
          .move(.r2, .r10), .add(.r2, immediate: Int32(slot(k))),
        ]
        code += Instruction.loadImmediate64(.r1, 1, kind: .mapByIndex)
        code += [
          .call(helper: HelperFunction.mapLookupElement.rawValue),
          .jump(.jeq, .r0, immediate: 0, offset: 2),
          .load(.doubleWord, .r3, from: .r0, offset: 0),
          .arithmetic(.xor, .r9, .r3),
        ]
      case 8:
        code += [.store(.doubleWord, .r9, to: .r10, offset: slot(k)), .move(.r1, .r9)]
        code +=
          passesFramePointer
          ? [.move(.r2, .r10), .add(.r2, immediate: Int32(slot(k)))]
          : [.move(.r2, .r9), .arithmetic(.rsh, .r2, immediate: 3)]
        callSites.append((code.count, int(0...1)))
        code += [.call(local: 0), .arithmetic(.add, .r9, .r0)]
      case 9:
        code += [
          .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 3),
          .jump(.jne, .r3, immediate: Int32(int(0...3)), offset: 2),
          .move(.r0, immediate: verdict()), .exit,
        ]
      case 10:
        code += [
          .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 3),
          .jump(.jne, .r3, immediate: Int32(int(0...3)), offset: 4),
          .move(.r1, immediate: Int32(int(1...9))), .move(.r2, immediate: 0),
          .call(helper: HelperFunction.redirect.rawValue), .exit,
        ]
      default:
        code += [
          .move(.r3, .r9), .arithmetic(.and, .r3, immediate: 3),
          .jump(.jne, .r3, immediate: Int32(int(0...3)), offset: 7),
        ]
        code += Instruction.loadImmediate64(.r1, 2, kind: .mapByIndex)
        code += [
          .move(.r2, .r9), .arithmetic(.and, .r2, immediate: 7),
          .move(.r3, immediate: int(0...1) == 0 ? 0 : 2),
          .call(helper: HelperFunction.redirectMap.rawValue), .exit,
        ]
      }
    }
    code += [.move(.r0, .r9), .arithmetic(.and, .r0, immediate: 7), .exit]

    // Subprograms, only those called: `mix(r1, r2)` (r2 a scalar, or a
    // pointer into the caller's frame) and `outer`, which has an exit of
    // its own and calls `mix`.
    let mainLength = code.count
    let mix = code.count
    code += [
      .store(.doubleWord, .r1, to: .r10, offset: -8),
      passesFramePointer ? .load(.doubleWord, .r0, from: .r2, offset: 0) : .move(.r0, .r2),
      .arithmetic(.add, .r0, .r1),
      .load(.doubleWord, .r3, from: .r10, offset: -8),
      .arithmetic(.xor, .r0, .r3),
      .arithmetic(.mul, .r0, immediate: 3),
      passesFramePointer
        ? .store(.doubleWord, .r0, to: .r2, offset: 0) : .arithmetic(.add, .r0, immediate: 1),
      .exit,
    ]
    let outer = code.count
    code += [
      .jump(.jle, .r1, immediate: Int32(int(0...64)), offset: 2),
      .move(.r0, immediate: 1),
      .exit,
      .move(.r6, .r1),
      .add(.r1, immediate: 1),
      .call(local: Int32(mix - (outer + 5) - 1)),
      .arithmetic(.add, .r0, .r6),
      .exit,
    ]
    for site in callSites {
      let target = site.subprogram == 0 ? mix : outer
      code[site.index] = .call(local: Int32(target - site.index - 1))
    }
    var subprograms: [Program.Subprogram] = [
      .init(name: "mix", start: mix, length: outer - mix),
      .init(name: "outer", start: outer, length: code.count - outer),
    ]
    if !callSites.contains(where: { $0.subprogram == 1 }) {
      code.removeSubrange(outer...)
      subprograms.removeLast()
    }
    if callSites.isEmpty {
      code.removeSubrange(mix...)
      subprograms.removeAll()
    }
    return Program(
      name:
        "generated_\(number)\(passesFramePointer && !callSites.isEmpty ? "_frame_pointer" : "")",
      sectionName: "xdp", instructions: code, mainLength: mainLength, subprograms: subprograms)
  }

  /// `if data + n > data_end: return a verdict`.
  private mutating func boundsCheck(_ bytes: Int) -> [Instruction] {
    [
      .move(.r2, .r7), .add(.r2, immediate: Int32(bytes)),
      .jump(.jle, .r2, .r8, offset: 2),
      .move(.r0, immediate: verdict()), .exit,
    ]
  }
}

extension Program {
  /// Whether the generator made this program pass a pointer into its frame
  /// to a subprogram.
  var passesFramePointer: Bool { name.hasSuffix("_frame_pointer") }
}
