import BPF
import Engine
import Testing

/// The packet helpers and `csum_diff` with hostile arguments and hostile
/// contexts, in both engines: the kernel's return values (net/core/
/// filter.c) for every offset and size, the engine's error for pointers
/// no region holds and for packet bounds a program moved out of its
/// frame, never a trap.
@Suite("Packet helpers and csum_diff with hostile arguments")
struct PacketHelperContractTests {
  /// Writes `data_meta = data + 1`: the kernel's "no metadata".
  static let metaAboveData: [Instruction] = [
    .load(.word, .r2, from: .r1, offset: 0), .add(.r2, immediate: 1),
    .store(.word, .r2, to: .r1, offset: 8),
  ]
  /// Writes `data = data_end + 1`.
  static let dataAboveEnd: [Instruction] = [
    .load(.word, .r2, from: .r1, offset: 4), .add(.r2, immediate: 1),
    .store(.word, .r2, to: .r1, offset: 0),
  ]
  /// Writes `data_meta = 0x1000`, below every frame.
  static let metaBelowFrame: [Instruction] = [.store(.word, immediate: 0x1000, to: .r1, offset: 8)]

  func adjust(_ helper: HelperFunction, _ offset: UInt64, _ engine: EngineKind) throws -> UInt64 {
    try XDPProbe(engine: engine).returnValue(
      set(.r2, offset) + [.call(helper: helper.rawValue), .exit])
  }

  @Test(arguments: EngineKind.allCases)
  func adjustHeadTakesAnyOffset(engine: EngineKind) throws {
    let cases: [(UInt64, UInt64)] = [
      (0, 0), (0xffff_ffff, 0), (0x1_0000_0000, 0), (0xffff_ffff_ffff_ff28, 0),
      (0xffff_ffff_ffff_ff27, negative(Errno.invalid)), (0x8000_0000, negative(Errno.invalid)),
      (0x7fff_ffff, negative(Errno.invalid)), (0xffff, negative(Errno.invalid)),
      (47, negative(Errno.invalid)), (46, 0),
    ]
    for (offset, expected) in cases {
      #expect(
        try adjust(.xdpAdjustHead, offset, engine) == expected,
        "offset 0x\(String(offset, radix: 16))")
    }
  }

  @Test(arguments: EngineKind.allCases)
  func adjustMetaTakesAnyOffset(engine: EngineKind) throws {
    let cases: [(UInt64, UInt64)] = [
      (0, 0), (0xffff_ffff_ffff_fffc, 0), (0xffff_ffff_ffff_fffd, negative(Errno.accessDenied)),
      (4, negative(Errno.invalid)), (0x8000_0000, negative(Errno.invalid)),
      (0x7fff_ffff, negative(Errno.invalid)), (0x1_0000_0000, 0),
    ]
    for (offset, expected) in cases {
      #expect(
        try adjust(.xdpAdjustMeta, offset, engine) == expected,
        "offset 0x\(String(offset, radix: 16))")
    }
  }

  @Test(arguments: EngineKind.allCases)
  func adjustTailTakesAnyOffset(engine: EngineKind) throws {
    let cases: [(UInt64, UInt64)] = [
      (0, 0), (3460, 0), (3461, negative(Errno.invalid)), (0xffff_ffff_ffff_ffd2, 0),
      (0xffff_ffff_ffff_ffd1, negative(Errno.invalid)), (0x8000_0000, negative(Errno.invalid)),
      (0x7fff_ffff, negative(Errno.invalid)), (0xffff_ffff, 0),
    ]
    for (offset, expected) in cases {
      #expect(
        try adjust(.xdpAdjustTail, offset, engine) == expected,
        "offset 0x\(String(offset, radix: 16))")
    }
  }

  /// The preparation error of `instructions` in `engine`'s machine.
  func refusal(_ instructions: [Instruction], _ engine: EngineKind) throws -> String {
    let machine = try Machine(configuration: XDPProbe(engine: engine).configuration)
    do {
      _ = try machine.prepare(Program(name: "probe", sectionName: "xdp", instructions: instructions))
    } catch {
      return "\(error)"
    }
    return "prepared"
  }

  /// Regression (issue 23): `data_meta` above `data`, written by the
  /// program, made `adjust_head` subtract `data - data_meta` as unsigned
  /// values and trap the process (SIGILL) in both engines; so did `data`
  /// above `data_end` in `xdp_load_bytes`. The kernel's verifier refuses
  /// every write to `struct xdp_md`, and so does the engine now, when the
  /// program is prepared, naming the store; the helpers read the packet's
  /// bounds from the runner's own bookkeeping, never from the record.
  @Test(arguments: EngineKind.allCases)
  func writtenPacketBoundsAreRefusedBeforeTheyRun(engine: EngineKind) throws {
    let writes: [([Instruction], Int, String)] = [
      (Self.metaAboveData, 2, "off=8 size=4"), (Self.dataAboveEnd, 2, "off=0 size=4"),
      (Self.metaBelowFrame, 0, "off=8 size=4"),
    ]
    for (write, store, access) in writes {
      for helper in [HelperFunction.xdpAdjustHead, .xdpAdjustMeta, .xdpLoadBytes] {
        let program =
          [.move(.r6, .r1)] + write + [
            .move(.r1, .r6), .move(.r2, immediate: 0), .call(helper: helper.rawValue), .exit,
          ]
        let error = try refusal(program, engine)
        #expect(
          error.contains("instruction \(store + 1)") && error.contains("invalid bpf_context access")
            && error.contains(access), "\(helper): \(error)")
      }
    }
    // A context left as the runner made it: xdp_load_bytes reads the
    // packet's first bytes and returns 0.
    let load: [Instruction] = [
      .move(.r6, .r1), .move(.r1, .r6), .move(.r2, immediate: 0), .move(.r3, .r10),
      .add(.r3, immediate: -8), .move(.r4, immediate: 4),
      .call(helper: HelperFunction.xdpLoadBytes.rawValue),
      .load(.word, .r1, from: .r10, offset: -8), .arithmetic(.lsh, .r0, immediate: 32),
      .arithmetic(.or, .r0, .r1), .exit,
    ]
    #expect(try XDPProbe(engine: engine).returnValue(load) == 0xabab_abab)
  }

  @Test(arguments: EngineKind.allCases)
  func packetHelpersRefuseWhatIsNoContext(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine)
    for helper in [HelperFunction.xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail, .xdpLoadBytes] {
      for r1 in hostileAddresses + [0x2000] {
        let error = try probe.executionError(
          set(.r1, r1) + [.move(.r2, immediate: 0), .call(helper: helper.rawValue), .exit])
        #expect(
          error
            == .helperFault(index: 3, helper: helper.rawValue, reason: "R1 is not an XDP context"))
      }
    }
  }

  @Test(arguments: EngineKind.allCases)
  func loadAndStoreBytesCheckOffsetLengthAndBuffer(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine)
    func copy(
      _ helper: HelperFunction, offset: UInt64, length: UInt64, buffer: [Instruction]? = nil
    )
      throws -> Result<UInt64, ExecutionError>
    {
      let program =
        set(.r2, offset) + (buffer ?? [.move(.r3, .r10), .add(.r3, immediate: -64)])
        + set(.r4, length) + [.call(helper: helper.rawValue), .exit]
      if let error = try probe.executionError(program) { return .failure(error) }
      return .success(try probe.returnValue(program))
    }
    for helper in [HelperFunction.xdpLoadBytes, .xdpStoreBytes] {
      let cases: [(UInt64, UInt64, UInt64)] = [
        (0, 0, 0), (0, 60, 0), (56, 4, 0), (57, 4, negative(Errno.invalid)),
        (0x1_0000, 4, negative(Errno.fault)), (0, 0x1_0000, negative(Errno.fault)),
        (0xffff_ffff, 1, negative(Errno.fault)), (0xffff, 0xffff, negative(Errno.invalid)),
        (0x1_0000_0000, 4, 0),
      ]
      for (offset, length, expected) in cases {
        #expect(
          try copy(helper, offset: offset, length: length) == .success(expected),
          "\(helper) offset \(offset) length \(length)")
      }
      for address in hostileAddresses {
        let result = try copy(helper, offset: 0, length: 4, buffer: set(.r3, address))
        #expect(
          result
            == .failure(
              .memoryFault(index: 6, address: address, size: 4, write: helper == .xdpLoadBytes)))
      }
    }
  }

  /// `csum_diff` as the 6.18 kernel computes it: the values below were
  /// measured with `BPF_PROG_TEST_RUN` on that kernel for the same stack
  /// bytes (sizes that are not multiples of 4 included: kernels since 6.13
  /// no longer refuse them; the fidelity suite checks it against the
  /// running kernel too).
  @Test(arguments: EngineKind.allCases)
  func checksumDifferenceMatchesTheKernel(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine)
    func difference(from: Int32, to: Int32) throws -> UInt64 {
      try probe.returnValue([
        .store(.doubleWord, immediate: 0x0102_0304, to: .r10, offset: -8),
        .store(.doubleWord, immediate: 0x0506_0708, to: .r10, offset: -16),
        .move(.r1, .r10), .add(.r1, immediate: -16), .move(.r2, immediate: from),
        .move(.r3, .r10), .add(.r3, immediate: -16), .move(.r4, immediate: to),
        .move(.r5, immediate: 0), .call(helper: HelperFunction.checksumDiff.rawValue), .exit,
      ])
    }
    #expect(try difference(from: 6, to: 0) == 0xf3f1)
    #expect(try difference(from: 0, to: 6) == 0x0c0e)
    #expect(try difference(from: 8, to: 8) == 0xffff)
    #expect(try difference(from: 16, to: 0) == 0xefeb)
    #expect(try difference(from: 3, to: 3) == 0xffff)
    #expect(try difference(from: 0, to: 0) == 0)
  }

  @Test(arguments: EngineKind.allCases)
  func checksumDifferenceFaultsOnWhatIsNoRegion(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine)
    // NULL with size 0 is allowed (ARG_PTR_TO_MEM | PTR_MAYBE_NULL): the seed.
    #expect(
      try probe.returnValue(
        set(.r1, 0) + set(.r2, 0) + set(.r3, 0) + set(.r4, 0) + set(.r5, 0x1234) + [
          .call(helper: HelperFunction.checksumDiff.rawValue), .exit,
        ]) == 0x1234)
    for address in hostileAddresses {
      #expect(
        try probe.executionError(
          set(.r1, address) + set(.r2, 4) + [
            .move(.r4, immediate: 0), .call(helper: HelperFunction.checksumDiff.rawValue), .exit,
          ]) == .memoryFault(index: 5, address: address, size: 4, write: false))
    }
    // A size past the stack frame (-1 as a u32 and 513): the frame cannot hold it.
    for size: UInt64 in [0xffff_ffff, 0xffff_ffff_ffff_ffff, 513] {
      guard
        case .memoryFault(5, _, let faulted, false) = try probe.executionError(
          [.move(.r1, .r10), .add(.r1, immediate: -512)] + set(.r2, size) + [
            .move(.r4, immediate: 0), .call(helper: HelperFunction.checksumDiff.rawValue), .exit,
          ])
      else {
        Issue.record("size \(size) must fault")
        continue
      }
      #expect(faulted == Int(UInt32(truncatingIfNeeded: size)))
    }
  }

  /// A helper's work counts against the budget: `csum_diff` over a
  /// 1 MiB map value in a loop is stopped at the call once the budget is
  /// spent (before, each call summed a copy of the whole value and the
  /// loop ran to its end, however large the value).
  @Test(arguments: EngineKind.allCases)
  func checksumWorkIsChargedToTheBudget(engine: EngineKind) throws {
    var probe = XDPProbe(engine: engine)
    probe.maps = [
      MapDefinition(name: "big", type: .array, keySize: 4, valueSize: 1 << 20, maxEntries: 1)
    ]
    probe.budget = 100_000
    let loop: [Instruction] =
      Instruction.loadImmediate64(.r7, 0, kind: .mapValueByIndex) + [
        .move(.r6, immediate: 0),
        .move(.r1, .r7), .move(.r2, immediate: 1 << 20), .move(.r3, immediate: 0),
        .move(.r4, immediate: 0), .move(.r5, immediate: 0),
        .call(helper: HelperFunction.checksumDiff.rawValue),
        .add(.r6, immediate: 1), .jump(.jlt, .r6, immediate: 100, offset: -8),
        .move(.r0, immediate: 2), .exit,
      ]
    #expect(
      try probe.executionError(loop)
        == .instructionBudgetExceeded(index: 8, budget: 100_000))
    probe.budget = 2_000_000
    #expect(try probe.returnValue(loop) == 2, "16,384 instructions a call: 100 calls fit 2 M")
  }
}
