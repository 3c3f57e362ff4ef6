import BPF
import Testing

@testable import Engine

/// Issue 22: `xdp_load_bytes`, `xdp_store_bytes`, `csum_diff` and
/// `xdp_adjust_head`/`_meta`/`_tail` run inline in the JIT, with the
/// interpreter's return values, packet bytes, metadata, errors,
/// instruction counts and budget, and no call into Swift for the
/// arguments the fast path covers (before, one call per helper).
@Suite struct InlinePacketHelperTests {
  /// What one engine made of a program on one packet.
  struct Outcome: Equatable {
    var result: String
    var instructions: Int
    var calls: Int
  }

  /// Runs `instructions` on a `length`-byte packet (bytes 0, 1, 2, ...)
  /// through the per-packet runner in `engine`.
  static func run(
    _ instructions: [Instruction], _ engine: EngineKind, length: Int = 200,
    budget: Int = 1_000_000
  ) throws -> Outcome {
    let machine = try Machine(
      configuration: MachineConfiguration(instructionBudget: budget, engine: engine))
    let program = try machine.prepare(
      Program(name: "probe", sectionName: "xdp", instructions: instructions))
    let runner = try PacketRunner(machine: machine, program: program, form: .perPacket)
    let packet = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    let result: String
    do {
      let outcome = try runner.run([packet]).outcomes[0]
      result =
        "R0 = 0x\(String(outcome.returnValue, radix: 16)) output \(outcome.output) "
        + "metadata \(outcome.metadata)"
    } catch {
      result = "\(error)"
    }
    if engine == .jit { #expect(machine.engineFallback == nil) }
    return Outcome(
      result: result, instructions: machine.lastInstructionCount, calls: machine.jit.swiftCalls)
  }

  /// Both engines; the JIT's outcome agrees with the interpreter's
  /// (calls aside) and made `calls` calls into Swift.
  static func expectAgreement(
    _ instructions: [Instruction], calls: Int = 0, length: Int = 200, budget: Int = 1_000_000,
    _ name: String
  ) throws -> Outcome {
    let interpreted = try run(instructions, .interpreter, length: length, budget: budget)
    let compiled = try run(instructions, .jit, length: length, budget: budget)
    #expect(compiled.result == interpreted.result, "\(name)")
    #expect(compiled.instructions == interpreted.instructions, "\(name)")
    #expect(compiled.calls == calls, "\(name): calls into Swift")
    return compiled
  }

  /// `r6 = ctx; r0 = helper(ctx, offset, r10 - 512 or pointer, len);
  /// r7 = r0; store_bytes(ctx, 0, r10 - 512, 24); r0 = r7`: the loaded
  /// bytes show in the packet.
  static func copy(
    _ helper: HelperFunction, offset: UInt64, length: UInt64, pointer: UInt64? = nil
  ) -> [Instruction] {
    var program: [Instruction] = [.move(.r6, .r1)]
    for slot in stride(from: -512, to: 0, by: 8) {
      program.append(
        .store(.doubleWord, immediate: Int32(slot * 3 + 1), to: .r10, offset: Int16(slot)))
    }
    program += Instruction.loadImmediate64(.r2, offset)
    if let pointer {
      program += Instruction.loadImmediate64(.r3, pointer)
    } else {
      program += [.move(.r3, .r10), .add(.r3, immediate: -512)]
    }
    program += Instruction.loadImmediate64(.r4, length)
    program += [
      .call(helper: helper.rawValue), .move(.r7, .r0),
      .move(.r1, .r6), .move(.r2, immediate: 0), .move(.r3, .r10), .add(.r3, immediate: -512),
      .move(.r4, immediate: 24), .call(helper: HelperFunction.xdpStoreBytes.rawValue),
      .move(.r0, .r7), .exit,
    ]
    return program
  }

  @Test(arguments: [HelperFunction.xdpLoadBytes, .xdpStoreBytes])
  func loadAndStoreBytesRunInline(_ helper: HelperFunction) throws {
    let offsets: [UInt64] = [0, 1, 13, 100, 199, 200, 201, 0xffff, 0x1_0000, 0xffff_ffff]
    let lengths: [UInt64] = [0, 1, 3, 4, 24, 63, 64, 100, 199, 200, 201, 0x1_0000]
    var returns: Set<UInt64> = []
    for offset in offsets {
      for length in lengths {
        let outcome = try Self.expectAgreement(
          Self.copy(helper, offset: offset, length: length), "offset \(offset) length \(length)")
        if let value = UInt64(outcome.result.dropFirst(7).prefix { $0 != " " }, radix: 16) {
          returns.insert(value)
        }
      }
    }
    // Every outcome net/core/filter.c has: 0, -EINVAL (past the packet),
    // -EFAULT (offset or length above 0xffff).
    #expect(returns == [0, negative(.invalid), negative(.fault)])
  }

  /// The copy of an offset-0, length-8 load to the packet start, as the
  /// kernel leaves it: bytes from the stack pattern, the rest unchanged.
  @Test func storeBytesWritesTheBuffer() throws {
    let outcome = try Self.expectAgreement(
      Self.copy(.xdpStoreBytes, offset: 4, length: 8), "store")
    let stack = withUnsafeBytes(of: Int64(-512 * 3 + 1).littleEndian, Array.init)
    let packet = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    var expected = packet
    // store_bytes(ctx, 4, stack, 8), then (ctx, 0, stack, 24).
    expected.replaceSubrange(4..<12, with: stack)
    var last = [UInt8]()
    for slot in stride(from: -512, to: -488, by: 8) {
      last += withUnsafeBytes(of: Int64(slot * 3 + 1).littleEndian, Array.init)
    }
    expected.replaceSubrange(0..<24, with: last)
    #expect(outcome.result == "R0 = 0x0 output \(expected) metadata []")
  }

  /// A buffer outside every region and a context that is no record go to
  /// the engine's Swift code, which names the fault.
  @Test func argumentsTheFastPathDoesNotCoverGetTheEnginesError() throws {
    let outside = try Self.expectAgreement(
      Self.copy(.xdpLoadBytes, offset: 0, length: 8, pointer: 8), calls: 1, "outside")
    #expect(outside.result.contains("at 0x8 "), "\(outside.result)")
    let notContext: [Instruction] = [
      .move(.r1, .r10), .move(.r2, immediate: 0),
      .call(helper: HelperFunction.xdpAdjustHead.rawValue),
      .exit,
    ]
    let refused = try Self.expectAgreement(notContext, calls: 1, "not a context")
    #expect(refused.result.contains("R1 is not an XDP context"), "\(refused.result)")
  }

  /// `load_bytes(ctx, 0, r10 - 128, 128); r0 = csum_diff(r10 - 128,
  /// from, r10 - 64, to, seed)`.
  static func checksum(from: Int32, to: Int32, seed: UInt64) -> [Instruction] {
    [
      .move(.r2, immediate: 0), .move(.r3, .r10), .add(.r3, immediate: -128),
      .move(.r4, immediate: 128), .call(helper: HelperFunction.xdpLoadBytes.rawValue),
      .move(.r1, .r10), .add(.r1, immediate: -128), .move(.r2, immediate: from),
      .move(.r3, .r10), .add(.r3, immediate: -64), .move(.r4, immediate: to),
    ] + Instruction.loadImmediate64(.r5, seed) + [
      .call(helper: HelperFunction.checksumDiff.rawValue), .exit,
    ]
  }

  @Test func checksumDifferenceRunsInline() throws {
    let sizes: [Int32] = [0, 1, 2, 3, 4, 5, 7, 8, 20, 33, 63, 64]
    var values: Set<String> = []
    for from in sizes {
      for to in sizes {
        for seed: UInt64 in [0, 0xffff_ffff, 0x1234_5678, 0xdead_0000_0000_beef] {
          let outcome = try Self.expectAgreement(
            Self.checksum(from: from, to: to, seed: seed), "from \(from) to \(to) seed \(seed)")
          values.insert(outcome.result)
        }
      }
    }
    #expect(values.count > 300, "distinct sums: the cases are not all alike")
    // One value worked by hand: to = bytes 64...67 of the packet
    // (0xc3, 0xca, 0xd1, 0xd8 as a little-endian word), seed 0:
    // from32to16(0xd8d1cac3) = 0xd8d1 + 0xcac3 = 0x1a394 -> 0xa394 + carry.
    let one = try Self.run(Self.checksum(from: 0, to: 4, seed: 0), .jit)
    let word: UInt32 = 0xd8d1_cac3
    let folded = (word &+ ((word >> 16) | (word << 16))) >> 16
    #expect(one.result.hasPrefix("R0 = 0x\(String(folded, radix: 16)) "))
  }

  /// `r0 = adjust(ctx, offset)` for each helper, and the sequence
  /// meta(-8), head(-16) (moving the metadata), tail(+16) (clearing).
  @Test func adjustmentsRunInline() throws {
    let offsets: [UInt64] = [
      0, 4, 8, 14, 46, 47, 186, 187, 3460, 3461, 0xffff_ffff_ffff_fff8, 0xffff_ffff_ffff_ffd2,
      0xffff_ffff_ffff_ff28, 0xffff_ffff_ffff_ff27, 0xffff_ffff_ffff_fffd, 0x7fff_ffff,
      0x8000_0000, 0x1_0000_0004,
    ]
    var returns: Set<String> = []
    for helper in [HelperFunction.xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail] {
      for offset in offsets {
        let program =
          Instruction.loadImmediate64(.r2, offset) + [.call(helper: helper.rawValue), .exit]
        let outcome = try Self.expectAgreement(program, "\(helper.rawValue) \(offset)")
        returns.insert(String(outcome.result.split(separator: " ")[2]))
      }
    }
    for code in [Errno.invalid, .accessDenied] {
      #expect(returns.contains("0x" + String(negative(code), radix: 16)), "\(code)")
    }
    let sequence: [Instruction] = [
      .move(.r6, .r1), .move(.r2, immediate: -8),
      .call(helper: HelperFunction.xdpAdjustMeta.rawValue),
      .load(.word, .r2, from: .r6, offset: 8),
      .store(.doubleWord, immediate: 0x1122_3344, to: .r2, offset: 0),
      .move(.r1, .r6), .move(.r2, immediate: -16),
      .call(helper: HelperFunction.xdpAdjustHead.rawValue), .move(.r7, .r0),
      .move(.r1, .r6), .move(.r2, immediate: 16),
      .call(helper: HelperFunction.xdpAdjustTail.rawValue), .arithmetic(.or, .r0, .r7),
      // The metadata shrinks to its last 4 bytes.
      .move(.r1, .r6), .move(.r2, immediate: 4),
      .call(helper: HelperFunction.xdpAdjustMeta.rawValue), .arithmetic(.or, .r0, .r7),
      .exit,
    ]
    let outcome = try Self.expectAgreement(sequence, length: 60, "sequence")
    let packet = (0..<60).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    // 16 zeroed headroom bytes less the 8 metadata bytes that moved with
    // data, then the packet and 16 cleared bytes; the metadata's first 4
    // bytes are now outside it.
    let metadata: [UInt8] = [0, 0, 0, 0]
    let front = [UInt8](repeating: 0, count: 8) + [0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0]
    #expect(
      outcome.result
        == "R0 = 0x0 output \(front + packet + [UInt8](repeating: 0, count: 16)) "
        + "metadata \(metadata)")
  }

  /// A helper's work (a 512-byte copy is 8 instructions) counts against
  /// the budget at the call, accumulated over the run, in both engines.
  @Test func helperWorkCountsAgainstTheBudget() throws {
    let twice: [Instruction] = [
      .move(.r6, .r1), .move(.r2, immediate: 0), .move(.r3, .r10), .add(.r3, immediate: -512),
      .move(.r4, immediate: 512), .call(helper: HelperFunction.xdpLoadBytes.rawValue),
      .move(.r1, .r6), .move(.r2, immediate: 0), .move(.r3, .r10), .add(.r3, immediate: -512),
      .move(.r4, immediate: 512), .call(helper: HelperFunction.xdpStoreBytes.rawValue),
      .exit,
    ]
    // 6 instructions at the first call (work 8: stops below 14), 12 at
    // the second (work 16: stops below 28).
    for budget in [13, 14, 27, 28, 40] {
      let outcome = try Self.expectAgreement(
        twice, length: 600, budget: budget, "budget \(budget)")
      let stopped = outcome.result.contains("budget")
      #expect(stopped == (budget <= 27), "budget \(budget): \(outcome.result)")
    }
  }

  @Test func onlyTheAdjustmentsMoveThePacket() {
    let moving = Helpers.known.filter { HelperFunction(rawValue: $0).movesPacket }
    let adjustments: [HelperFunction] = [.xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail]
    #expect(moving == Set(adjustments.map(\.rawValue)))
  }
}
