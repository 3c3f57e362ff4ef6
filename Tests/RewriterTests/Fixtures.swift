import BPF

/// Hand-written programs for the rewriter's tests, built with BPF's
/// instruction constructors. Indices in comments are slot indices.
enum Fixtures {
  /// A classifier the kernel verifier accepts: bounds check with its own
  /// exit (ABORTED), a key on the stack passed to `map_lookup_elem` (map
  /// index 0: array, u32 -> u64), and two more exits returning DROP or the
  /// frame's byte 13 as the verdict (values above 4 are ABORTED).
  static let classifier = Program(
    name: "classifier", sectionName: "xdp",
    instructions: [
      .move(.r6, .r1),  // 0
      .load(.word, .r2, from: .r6, offset: 4),  // 1 data_end
      .load(.word, .r3, from: .r6, offset: 0),  // 2 data
      .move(.r4, .r3),  // 3
      .add(.r4, immediate: 16),  // 4
      .jump(.jle, .r4, .r2, offset: 2),  // 5 -> 8
      .move(.r0, immediate: 0),  // 6
      .exit,  // 7
      .load(.byte, .r7, from: .r3, offset: 13),  // 8
      .move(.r1, immediate: 0),  // 9
      .store(.word, .r1, to: .r10, offset: -4),  // 10
      .move(.r2, .r10),  // 11
      .add(.r2, immediate: -4),  // 12
    ] + Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex) + [  // 13, 14
      .call(helper: HelperFunction.mapLookupElement.rawValue),  // 15
      .jump(.jeq, .r0, immediate: 0, offset: 3),  // 16 -> 20
      .load(.doubleWord, .r1, from: .r0, offset: 0),  // 17
      .add(.r1, immediate: 1),  // 18
      .store(.doubleWord, .r1, to: .r0, offset: 0),  // 19
      .jump(.jne, .r7, immediate: 1, offset: 2),  // 20 -> 23
      .move(.r0, immediate: 1),  // 21
      .exit,  // 22
      .move(.r0, .r7),  // 23
      .exit,  // 24
    ])

  /// A main program with two exits that calls a subprogram with its own
  /// exit (a return), and a spilled stack slot.
  static let withSubprogram = Program(
    name: "with_subprogram", sectionName: "xdp",
    instructions: [
      .store(.doubleWord, .r1, to: .r10, offset: -8),  // 0
      .move(.r1, immediate: 5),  // 1
      .call(local: 5),  // 2 -> 8
      .jump(.jeq, .r0, immediate: 2, offset: 3),  // 3 -> 7
      .load(.doubleWord, .r1, from: .r10, offset: -8),  // 4
      .move(.r0, immediate: 1),  // 5
      .exit,  // 6
      .exit,  // 7
      .move(.r0, .r1),  // 8: subprogram
      .store(.doubleWord, .r0, to: .r10, offset: -8),  // 9: the subprogram's own frame
      .add(.r0, immediate: -3),  // 10
      .exit,  // 11
    ], mainLength: 8, subprograms: [.init(name: "adjust", start: 8, length: 4)])

  /// Spills a frame pointer, fills it and stores through it.
  static let spillAndFill = Program(
    name: "spill", sectionName: "xdp",
    instructions: [
      .move(.r2, .r10),  // 0
      .add(.r2, immediate: -16),  // 1
      .store(.doubleWord, .r2, to: .r10, offset: -8),  // 2 spill
      .move(.r2, immediate: 0),  // 3
      .load(.doubleWord, .r3, from: .r10, offset: -8),  // 4 fill
      .store(.word, immediate: 7, to: .r3, offset: -4),  // 5 at r10-20
      .move(.r0, immediate: 2),  // 6
      .exit,  // 7
    ])

  /// Two paths give R2 different frame offsets, then R2 is a base.
  static let disagreeingPaths = Program(
    name: "paths", sectionName: "xdp",
    instructions: [
      .load(.word, .r5, from: .r1, offset: 0),  // 0
      .move(.r2, .r10),  // 1
      .jump(.jeq, .r5, immediate: 0, offset: 2),  // 2 -> 5
      .add(.r2, immediate: -8),  // 3
      .jump(offset: 1),  // 4 -> 6
      .add(.r2, immediate: -16),  // 5
      .store(.doubleWord, immediate: 0, to: .r2, offset: 0),  // 6
      .move(.r0, immediate: 2),  // 7
      .exit,  // 8
    ])

  /// Adds a 64-bit value loaded from the context, whose range is not
  /// known, to a frame pointer.
  static let unboundedOffset = Program(
    name: "unbounded", sectionName: "xdp",
    instructions: [
      .load(.doubleWord, .r5, from: .r1, offset: 0),  // 0
      .move(.r2, .r10),  // 1
      .add(.r2, immediate: -16),  // 2
      .arithmetic(.add, .r2, .r5),  // 3
      .store(.byte, immediate: 0, to: .r2, offset: 0),  // 4
      .move(.r0, immediate: 2),  // 5
      .exit,  // 6
    ])

  /// Zeroes a 32-byte stack array in a loop (`for (i = 0; i < 32; i++)
  /// buf[i] = 0`), the index bounded only by the loop's comparison, then
  /// reads `buf[p & 31]`.
  static let stackArrayLoop = Program(
    name: "array_loop", sectionName: "xdp",
    instructions: [
      .move(.r6, .r1),  // 0
      .move(.r3, immediate: 0),  // 1
      .jump(.jge, .r3, immediate: 32, offset: 6),  // 2 -> 9 (loop test)
      .move(.r2, .r10),  // 3
      .add(.r2, immediate: -40),  // 4
      .arithmetic(.add, .r2, .r3),  // 5
      .store(.byte, immediate: 0, to: .r2, offset: 0),  // 6
      .add(.r3, immediate: 1),  // 7
      .jump(offset: -7),  // 8 -> 2
      .load(.word, .r4, from: .r6, offset: 0),  // 9
      .arithmetic(.and, .r4, immediate: 31),  // 10
      .move(.r2, .r10),  // 11
      .add(.r2, immediate: -40),  // 12
      .arithmetic(.add, .r2, .r4),  // 13
      .load(.byte, .r0, from: .r2, offset: 0),  // 14
      .move(.r0, immediate: 2),  // 15
      .exit,  // 16
    ])

  /// Adds a scalar to a frame pointer.
  static let variableOffset = Program(
    name: "variable", sectionName: "xdp",
    instructions: [
      .load(.word, .r5, from: .r1, offset: 0),  // 0
      .arithmetic(.and, .r5, immediate: 8),  // 1
      .move(.r2, .r10),  // 2
      .add(.r2, immediate: -16),  // 3
      .arithmetic(.add, .r2, .r5),  // 4
      .store(.doubleWord, immediate: 0, to: .r2, offset: 0),  // 5
      .move(.r0, immediate: 2),  // 6
      .exit,  // 7
    ])

  /// Passes a frame pointer to a bpf-to-bpf call.
  static let pointerToSubprogram = Program(
    name: "pointer_to_subprogram", sectionName: "xdp",
    instructions: [
      .store(.doubleWord, immediate: 0, to: .r10, offset: -8),  // 0
      .move(.r1, .r10),  // 1
      .add(.r1, immediate: -8),  // 2
      .call(local: 1),  // 3 -> 5
      .exit,  // 4
      .store(.doubleWord, immediate: 2, to: .r1, offset: 0),  // 5
      .move(.r0, immediate: 2),  // 6
      .exit,  // 7
    ], mainLength: 5, subprograms: [.init(name: "fill", start: 5, length: 3)])

  /// Calls `bpf_redirect(ifindex 1, 0)` and returns its verdict.
  static let redirecting = Program(
    name: "redirecting", sectionName: "xdp",
    instructions: [
      .move(.r1, immediate: 1),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.redirect.rawValue),
      .exit,
    ])

  /// Sets a redirect target, then passes: the target is pending after a
  /// verdict other than XDP_REDIRECT, so the epilogue must commit after
  /// every record.
  static let redirectingThenPassing = Program(
    name: "redirecting_then_passing", sectionName: "xdp",
    instructions: [
      .move(.r1, immediate: 1),
      .move(.r2, immediate: 0),
      .call(helper: HelperFunction.redirect.rawValue),
      .move(.r0, immediate: 2),
      .exit,
    ])

  /// Tail-calls into slot 0 of a program array, else passes.
  static let tailCalling = Program(
    name: "tail", sectionName: "xdp",
    instructions: [.move(.r6, .r1)] + Instruction.loadImmediate64(.r2, 0, kind: .mapByIndex) + [
      .move(.r1, .r6),
      .move(.r3, immediate: 0),
      .call(helper: HelperFunction.tailCall.rawValue),
      .move(.r0, immediate: 2),
      .exit,
    ])

  /// Uses `bytes` of stack (one store at the deepest byte).
  /// `csum_diff(r10 - 40000, 4, 0, 0, 0)`: a helper's argument 40000
  /// bytes down the stack, which no access of the program makes (the
  /// fuzzing of this session's `make fuzz` found `rewrite` trapping on it).
  static let argumentBelowTheFrame = Program(
    name: "below", sectionName: "xdp",
    instructions: [
      .move(.r1, .r10), .add(.r1, immediate: -40000),  // 0, 1
      .move(.r2, immediate: 4), .move(.r3, immediate: 0),  // 2, 3
      .move(.r4, immediate: 0), .move(.r5, immediate: 0),  // 4, 5
      .call(helper: HelperFunction.checksumDiff.rawValue),  // 6
      .move(.r0, immediate: 2), .exit,
    ])

  static func deepStack(_ bytes: Int16) -> Program {
    Program(
      name: "deep", sectionName: "xdp",
      instructions: [
        .store(.doubleWord, immediate: 0, to: .r10, offset: -bytes),
        .move(.r0, immediate: 1),
        .exit,
      ])
  }

  /// `program` with `r = 0` first for each of `registers`
  /// it does not name yet: the trampoline then has only the callee-saved
  /// registers outside `registers` for its cursor and bound.
  static func naming(_ registers: [Register], _ program: Program) -> Program {
    Program(
      name: program.name, sectionName: program.sectionName,
      instructions: registers.map { .move($0, immediate: 0) } + program.instructions,
      mainLength: program.mainLength + registers.count,
      subprograms: program.subprograms.map {
        .init(name: $0.name, start: $0.start + registers.count, length: $0.length)
      })
  }

  /// `program` naming all of R6 - R9: the loop keeps its values on the stack.
  static func namingCalleeSaved(_ program: Program) -> Program {
    naming([.r6, .r7, .r8, .r9], program)
  }

  /// Every program above that the trampoline accepts.
  static let batchable = [
    classifier, withSubprogram, spillAndFill, redirecting, redirectingThenPassing,
  ]
}
