import BPF
import Engine
import Frames
import Testing

/// Runs one packet through a per-packet program; returns the outcome and machine.
func runPacket(
  _ instructions: [Instruction], packet: [UInt8] = [UInt8](repeating: 0xab, count: 60),
  maps: [MapDefinition] = [], configuration: MachineConfiguration = .init(),
  setUp: (Machine) throws -> Void = { _ in }
) throws -> (PacketOutcome, Machine) {
  let machine = try Machine(maps: maps, configuration: configuration)
  try setUp(machine)
  let runner = try PacketRunner(
    machine: machine, program: machine.prepare(instructions: instructions), form: .perPacket)
  let report = try runner.run([packet])
  return (report.outcomes[0], machine)
}

/// Calls `helper` with R1 = ctx and R2 = `offset`; returns R0.
func adjust(_ helper: HelperFunction, _ offset: Int32, packet: Int = 60) throws -> (UInt64, Int) {
  let (outcome, _) = try runPacket(
    [.move(.r2, immediate: offset), .helper(helper), .exit],
    packet: [UInt8](repeating: 1, count: packet))
  return (outcome.returnValue, outcome.output.count)
}

let einval = UInt64(bitPattern: -22)

@Suite("Helpers")
struct HelperTests {
  @Test func adjustHeadLimits() throws {
    // 256 bytes headroom less sizeof(struct xdp_frame) = 216 bytes can be pushed.
    #expect(try adjust(.xdpAdjustHead, -14) == (0, 74))
    #expect(try adjust(.xdpAdjustHead, -216) == (0, 276))
    #expect(try adjust(.xdpAdjustHead, -217).0 == einval)
    // At least ETH_HLEN (14) bytes must remain.
    #expect(try adjust(.xdpAdjustHead, 46) == (0, 14))
    #expect(try adjust(.xdpAdjustHead, 47).0 == einval)
  }

  @Test func adjustMetaLimits() throws {
    #expect(try adjust(.xdpAdjustMeta, -4).0 == 0)
    #expect(try adjust(.xdpAdjustMeta, -32).0 == 0)
    #expect(try adjust(.xdpAdjustMeta, -3).0 == UInt64(bitPattern: -13))  // EACCES: not 4-aligned
    #expect(try adjust(.xdpAdjustMeta, 4).0 == einval)  // past data
  }

  /// Regression (found against the kernel, 6.18): metadata may be longer
  /// than 32 bytes since Linux 6.6; the limit is `u8 meta_len` (255), and
  /// the room in front of `data` (headroom less the 40-byte xdp_frame).
  @Test func adjustMetaBeyondThirtyTwoBytes() throws {
    let eacces = UInt64(bitPattern: -13)
    #expect(try adjust(.xdpAdjustMeta, -36).0 == 0)
    #expect(try adjust(.xdpAdjustMeta, -216).0 == 0)
    #expect(try adjust(.xdpAdjustMeta, -220).0 == einval)  // below hard start + 40
    func metaAfterPull(_ offset: Int32) throws -> UInt64 {
      // Pull the head by 60 first so that 276 bytes lie in front of data.
      try runPacket(
        [
          .move(.r6, .r1), .move(.r2, immediate: 60), .helper(.xdpAdjustHead),
          .move(.r1, .r6), .move(.r2, immediate: offset), .helper(.xdpAdjustMeta), .exit,
        ], packet: [UInt8](repeating: 1, count: 120)
      ).0.returnValue
    }
    #expect(try metaAfterPull(-252) == 0)
    #expect(try metaAfterPull(-256) == eacces)  // over 255
  }

  /// Regression (found against the kernel): the headroom a program pushes
  /// into is zero, as in the kernel's test run, not the previous packet's.
  @Test func headroomStartsZeroedForEveryPacket() throws {
    // adjust_head(-16); PASS if the new head's first 8 bytes are zero, else
    // DROP; then fill them with 0xff for the next packet to find.
    let program: [Instruction] = [
      .move(.r6, .r1), .move(.r2, immediate: -16), .helper(.xdpAdjustHead),
      .load(.word, .r2, from: .r6, offset: 0), .load(.doubleWord, .r4, from: .r2, offset: 0),
      .move(.r3, immediate: -1), .store(.doubleWord, .r3, to: .r2, offset: 0),
      .move(.r0, immediate: 2),
      .jump(.jeq, .r4, immediate: 0, offset: 1),
      .move(.r0, immediate: 1),
      .exit,
    ]
    let machine = try Machine()
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(instructions: program), form: .perPacket)
    let report = try runner.run([
      [UInt8](repeating: 1, count: 60), [UInt8](repeating: 2, count: 60),
    ])
    #expect(report.outcomes.map(\.action) == [.pass, .pass])
    #expect(
      report.outcomes.allSatisfy { $0.output.prefix(8) == [UInt8](repeating: 0xff, count: 8)[...] })
  }
  @Test func adjustTailLimits() throws {
    // Frame 4096 bytes, 320 reserved at the end, packet starts at 256: 3520 bytes of room.
    #expect(try adjust(.xdpAdjustTail, 3460) == (0, 3520))
    #expect(try adjust(.xdpAdjustTail, 3461).0 == einval)
    #expect(try adjust(.xdpAdjustTail, -46) == (0, 14))
    #expect(try adjust(.xdpAdjustTail, -47).0 == einval)
    let (outcome, _) = try runPacket(
      [.move(.r2, immediate: 8), .helper(.xdpAdjustTail), .exit],
      packet: [UInt8](repeating: 0xff, count: 60))
    #expect(outcome.output.suffix(8) == [UInt8](repeating: 0, count: 8))
  }

  @Test func headAdjustmentMovesMetadata() throws {
    // meta -8, store 0x11 at meta, push head by -4; meta must follow and keep its byte.
    let program: [Instruction] = [
      .move(.r6, .r1),
      .move(.r2, immediate: -8), .helper(.xdpAdjustMeta),
      .load(.word, .r2, from: .r6, offset: 8), .store(.byte, immediate: 0x11, to: .r2, offset: 0),
      .move(.r1, .r6), .move(.r2, immediate: -4), .helper(.xdpAdjustHead),
      .load(.word, .r2, from: .r6, offset: 8), .load(.word, .r3, from: .r6, offset: 0),
      .move(.r0, .r3), .arithmetic(.sub, .r0, .r2),  // metadata length
      .load(.byte, .r4, from: .r2, offset: 0), .arithmetic(.lsh, .r4, immediate: 8),
      .arithmetic(.or, .r0, .r4), .exit,
    ]
    #expect(try runPacket(program).0.returnValue == 0x1108)
  }

  @Test func loadAndStoreBytes() throws {
    let packet = (0..<64).map { UInt8($0) }
    // load 4 bytes at offset 10 to the stack, store them at offset 0, return them.
    let program: [Instruction] = [
      .move(.r6, .r1),
      .move(.r2, immediate: 10), .move(.r3, .r10), .add(.r3, immediate: -8),
      .move(.r4, immediate: 4), .helper(.xdpLoadBytes),
      .move(.r1, .r6), .move(.r2, immediate: 0), .move(.r3, .r10), .add(.r3, immediate: -8),
      .move(.r4, immediate: 4), .helper(.xdpStoreBytes),
      .load(.word, .r0, from: .r10, offset: -8), .exit,
    ]
    let (outcome, _) = try runPacket(program, packet: packet)
    #expect(outcome.returnValue == 0x0d0c_0b0a)
    #expect(Array(outcome.output.prefix(4)) == [10, 11, 12, 13])
    func load(offset: Int32, length: Int32) throws -> UInt64 {
      try runPacket(
        [
          .move(.r2, immediate: offset), .move(.r3, .r10), .add(.r3, immediate: -16),
          .move(.r4, immediate: length), .helper(.xdpLoadBytes), .exit,
        ], packet: packet
      ).0.returnValue
    }
    #expect(try load(offset: 60, length: 4) == 0)
    #expect(try load(offset: 61, length: 4) == einval)
    #expect(try load(offset: 0x10000, length: 4) == UInt64(bitPattern: -14))
  }

  @Test func redirectHelper() throws {
    let (ok, _) = try runPacket([
      .move(.r1, immediate: 7), .move(.r2, immediate: 0), .helper(.redirect), .exit,
    ])
    #expect(ok.action == .redirect)
    #expect(ok.redirect == .interface(7))
    let (flagged, _) = try runPacket([
      .move(.r1, immediate: 7), .move(.r2, immediate: 1), .helper(.redirect), .exit,
    ])
    #expect(flagged.returnValue == 0)
    #expect(flagged.redirect == nil)
  }

  @Test func redirectMapOnDevmap() throws {
    let devmap = MapDefinition(
      name: "tx_port", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8)
    func redirect(key: Int32, flags: Int32) throws -> PacketOutcome {
      try runPacket(
        Instruction.map(.r1, 0) + [
          .move(.r2, immediate: key), .move(.r3, immediate: flags), .helper(.redirectMap), .exit,
        ], maps: [devmap]
      ) { machine in try machine.maps[0].update(key: BPFMap.key(3), value: le32(42)) }.0
    }
    let hit = try redirect(key: 3, flags: 0)
    #expect(hit.returnValue == 4)
    #expect(hit.redirect == .device(map: 0, key: 3, interface: 42))
    // A missing key returns the low bits of flags as the verdict.
    #expect(try redirect(key: 4, flags: 2).returnValue == 2)
    #expect(try redirect(key: 4, flags: 2).redirect == nil)
    // Flags outside the action bits and BPF_F_BROADCAST/EXCLUDE_INGRESS: XDP_ABORTED.
    #expect(try redirect(key: 3, flags: 0x20).returnValue == 0)
    #expect(
      try redirect(key: 4, flags: 8 | 16).redirect == .broadcast(map: 0, excludingIngress: true))
  }

  @Test func redirectMapOnCPUMapRejectsBroadcast() throws {
    let cpumap = MapDefinition(name: "cpus", type: .cpumap, keySize: 4, valueSize: 4, maxEntries: 4)
    let program =
      Instruction.map(.r1, 0) + [
        .move(.r2, immediate: 1), .move(.r3, .r6), .helper(.redirectMap), .exit,
      ]
    func verdict(flags: Int32) throws -> PacketOutcome {
      try runPacket([.move(.r6, immediate: flags)] + program, maps: [cpumap]) { machine in
        try machine.maps[0].update(key: BPFMap.key(1), value: le32(128))
      }.0
    }
    #expect(try verdict(flags: 0).redirect == .processor(map: 0, cpu: 1))
    #expect(try verdict(flags: 8).returnValue == 0)
  }

  @Test func commitRedirectMovesTheTargetIntoTheRecord() throws {
    let program: [Instruction] = [
      .move(.r6, .r1), .move(.r1, immediate: 9), .move(.r2, immediate: 0), .helper(.redirect),
      .move(.r1, .r6), .helper(.commitRedirect),
      .load(.word, .r0, from: .r6, offset: XDPContextLayout.engineRedirectSlot), .exit,
    ]
    let (outcome, machine) = try runPacket(program)
    #expect(outcome.returnValue == 9)
    #expect(machine.pendingRedirect == nil)
  }

  @Test func checksumDifference() throws {
    // The kernel selftest's push case: 0xdeadbeefdeadbeef, seed 0 -> 0x3b3b.
    let push: [Instruction] = [
      .storeWord(Int32(bitPattern: 0xdead_beef), .r10, -8),
      .storeWord(Int32(bitPattern: 0xdead_beef), .r10, -4),
      .move(.r1, immediate: 0), .move(.r2, immediate: 0), .move(.r3, .r10),
      .add(.r3, immediate: -8),
      .move(.r4, immediate: 8), .move(.r5, immediate: 0), .helper(.checksumDiff), .exit,
    ]
    #expect(try run(push) == 0x3b3b)
  }

  @Test("csum_diff updates an IPv4 header checksum incrementally")
  func checksumIncrementalUpdate() throws {
    var generator = FrameGenerator(seed: 3, kinds: [.ipv4UDP])
    var header = Array(generator.next()[14..<34])
    let old = Array(header[12..<16])
    let new: [UInt8] = [198, 19, 7, 9]
    // r0 = csum_diff(&old, 4, &new, 4, 0)
    let program: [Instruction] = [
      .storeWord(
        Int32(
          bitPattern: UInt32(old[0]) | UInt32(old[1]) << 8 | UInt32(old[2]) << 16 | UInt32(old[3])
            << 24), .r10, -8),
      .storeWord(
        Int32(
          bitPattern: UInt32(new[0]) | UInt32(new[1]) << 8 | UInt32(new[2]) << 16 | UInt32(new[3])
            << 24), .r10, -4),
      .move(.r1, .r10), .add(.r1, immediate: -8), .move(.r2, immediate: 4),
      .move(.r3, .r10), .add(.r3, immediate: -4), .move(.r4, immediate: 4),
      .move(.r5, immediate: 0),
      .helper(.checksumDiff), .exit,
    ]
    let diff = UInt32(try run(program))
    // New checksum = ~(~old + diff) in 16-bit one's complement, all in memory byte order.
    let stored = UInt32(header[10]) | UInt32(header[11]) << 8
    var sum = (~stored & 0xffff) + diff
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    let updated = ~sum & 0xffff
    header[12..<16] = new[...]
    header[10] = UInt8(updated & 0xff)
    header[11] = UInt8(updated >> 8)
    #expect(InternetChecksum.of(header) == 0)
  }

  @Test func tracePrintkIsCaptured() throws {
    let format = Array("x=%d y=%llx %s\0".utf8)
    var program: [Instruction] = []
    for (index, chunk) in stride(from: 0, to: format.count, by: 4).enumerated() {
      let bytes = format[chunk..<min(chunk + 4, format.count)] + [0, 0, 0]
      let word =
        UInt32(bytes[chunk]) | UInt32(bytes[chunk + 1]) << 8 | UInt32(bytes[chunk + 2]) << 16
        | UInt32(bytes[chunk + 3]) << 24
      program.append(.storeWord(Int32(bitPattern: word), .r10, Int16(-32 + index * 4)))
    }
    program.append(.storeWord(0x6b6f, .r10, -8))  // "ok\0"
    program += [
      .move(.r1, .r10), .add(.r1, immediate: -32), .move(.r2, immediate: Int32(format.count)),
      .move(.r3, immediate: -1), .move(.r4, immediate: 255), .move(.r5, .r10),
      .add(.r5, immediate: -8),
      .helper(.tracePrintk), .exit,
    ]
    let machine = try Machine()
    let result = try machine.run(machine.prepare(instructions: program), r1: 0)
    #expect(machine.traceLog == ["x=-1 y=ff ok"])
    #expect(result == UInt64("x=-1 y=ff ok".utf8.count))
    // Without the terminating NUL the kernel refuses the format.
    var unterminated = program
    unterminated[unterminated.count - 7] = .move(.r2, immediate: Int32(format.count - 1))
    #expect(try run(unterminated) == einval)
  }

  @Test func seededRandomAndFixedClock() throws {
    let random: [Instruction] = [
      .helper(.getPseudoRandomU32), .move(.r6, .r0), .helper(.getPseudoRandomU32),
      .arithmetic(.lsh, .r0, immediate: 32), .arithmetic(.or, .r0, .r6), .exit,
    ]
    let a = try run(random, configuration: MachineConfiguration(randomSeed: 1))
    let b = try run(random, configuration: MachineConfiguration(randomSeed: 1))
    let c = try run(random, configuration: MachineConfiguration(randomSeed: 2))
    #expect(a == b)
    #expect(a != c)
    let clock: [Instruction] = [
      .helper(.ktimeGetNanoseconds), .move(.r6, .r0), .helper(.ktimeGetNanoseconds),
      .arithmetic(.sub, .r0, .r6), .arithmetic(.lsh, .r6, immediate: 16),
      .arithmetic(.or, .r0, .r6), .exit,
    ]
    #expect(
      try run(clock, configuration: MachineConfiguration(fixedClock: (100, 10))) == 100 << 16 | 10)
    #expect(
      try run(
        [.helper(.getSMPProcessorID), .exit], configuration: MachineConfiguration(processorID: 3))
        == 3)
  }

  @Test func tailCalls() throws {
    let programs = MapDefinition(
      name: "jmp", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4)
    let machine = try Machine(maps: [programs])
    let target = try machine.prepare(instructions: [.move(.r0, immediate: 3), .exit])
    try machine.maps[0].setProgram(target, at: 0)
    func caller(_ slot: Int32) throws -> PreparedProgram {
      try machine.prepare(
        instructions: Instruction.map(.r2, 0) + [
          .move(.r3, immediate: slot), .helper(.tailCall), .move(.r0, immediate: 1), .exit,
        ])
    }
    #expect(try machine.run(caller(0), r1: 0) == 3)
    #expect(try machine.run(caller(1), r1: 0) == 1)  // empty slot: falls through
    #expect(try machine.run(caller(9), r1: 0) == 1)  // out of range: falls through
    // A program that tail-calls itself: 33 calls succeed, then it falls through.
    let counting = try machine.prepare(
      instructions: [.add(.r6, immediate: 1)] + Instruction.map(.r2, 0) + [
        .move(.r3, immediate: 2), .helper(.tailCall), .move(.r0, .r6), .exit,
      ])
    try machine.maps[0].setProgram(counting, at: 2)
    #expect(try machine.run(counting, r1: 0) == 34)
  }
}
