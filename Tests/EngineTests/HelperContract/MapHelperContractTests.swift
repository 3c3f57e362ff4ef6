import BPF
import Engine
import Testing

/// The map, redirect and tail-call helpers with hostile arguments, in both
/// engines: each gives the kernel's return value (arraymap.c, hashtab.c,
/// devmap.c, net/core/filter.c) or stops the run with the engine's error
/// naming the instruction, never a trap (docs/DESIGN.md, "Helper
/// contracts").
@Suite("Map, redirect and tail-call helpers with hostile arguments")
struct MapHelperContractTests {
  static let array = MapDefinition(
    name: "array", type: .array, keySize: 4, valueSize: 8, maxEntries: 4)
  static let hash = MapDefinition(
    name: "hash", type: .hash, keySize: 8, valueSize: 16, maxEntries: 2)
  static let devmap = MapDefinition(
    name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8)
  static let cpumap = MapDefinition(
    name: "cpus", type: .cpumap, keySize: 4, valueSize: 4, maxEntries: 4)
  static let programs = MapDefinition(
    name: "jumps", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4)

  /// R2 (or `register`) = r10 + `offset`, with the 8 bytes there set to
  /// `key` (a 4-byte key in the low half).
  static func keyOnStack(_ key: UInt64, register: Register = .r2, offset: Int16 = -8)
    -> [Instruction]
  {
    set(.r0, key) + [
      .store(.doubleWord, .r0, to: .r10, offset: offset), .move(register, .r10),
      .add(register, immediate: Int32(offset)),
    ]
  }

  /// Hostile addresses that are no map handle either (the handle of map 0
  /// is one of ``hostileAddresses``: a pointer that happens to be a map).
  static let noMaps = hostileAddresses.filter { $0 != Machine.mapHandle(0) }

  /// A call at the end of `setUp`, then exit; the call's index.
  static func call(_ helper: HelperFunction, after setUp: [Instruction]) -> ([Instruction], Int) {
    (setUp + [.call(helper: helper.rawValue), .exit], setUp.count)
  }

  @Test(arguments: EngineKind.allCases)
  func lookupRefusesWhatIsNoMapAndNoKey(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine, maps: [Self.array, Self.programs])
    for address in Self.noMaps {
      let (program, call) = Self.call(
        .mapLookupElement, after: set(.r1, address) + Self.keyOnStack(0))
      #expect(
        try probe.executionError(program)
          == .helperFault(
            index: call, helper: 1, reason: "R1 (0x\(String(address, radix: 16))) is not a map"))
      let (badKey, at) = Self.call(
        .mapLookupElement, after: Instruction.map(.r1, 0) + set(.r2, address))
      #expect(
        try probe.executionError(badKey)
          == .memoryFault(index: at, address: address, size: 4, write: false))
    }
    // A key straddling the end of the stack frame.
    let (straddling, at) = Self.call(
      .mapLookupElement,
      after: Instruction.map(.r1, 0) + [.move(.r2, .r10), .add(.r2, immediate: -3)])
    guard case .memoryFault(at, _, 4, false) = try probe.executionError(straddling) else {
      Issue.record("a key crossing the frame's end must fault at instruction \(at)")
      return
    }
    // Indices past the end find nothing; prog_array values are not readable.
    for key: UInt64 in [4, 0xffff_ffff, 0x1_0000_0000 | 4] {
      let (past, _) = Self.call(
        .mapLookupElement, after: Instruction.map(.r1, 0) + Self.keyOnStack(key))
      #expect(try probe.returnValue(past) == 0, "key \(key)")
    }
    let (programArray, index) = Self.call(
      .mapLookupElement, after: Instruction.map(.r1, 1) + Self.keyOnStack(0))
    #expect(
      try probe.executionError(programArray)
        == .helperFault(index: index, helper: 1, reason: "prog_array values cannot be read"))
  }

  @Test(arguments: EngineKind.allCases)
  func updateGivesTheKernelsErrors(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine, maps: [Self.array, Self.hash])
    func update(map: Int, key: UInt64, flags: UInt64, value: [Instruction]? = nil) throws
      -> Result<UInt64, ExecutionError>
    {
      let setUp =
        Self.keyOnStack(key) + Self.keyOnStack(0x1122, register: .r3, offset: -32)
        + Instruction.map(.r1, map)
        + (value ?? []) + set(.r4, flags)
      let (program, _) = Self.call(.mapUpdateElement, after: setUp)
      if let error = try probe.executionError(program) { return .failure(error) }
      return .success(try probe.returnValue(program))
    }
    // Flags above BPF_EXIST, BPF_F_LOCK without a lock, any high bit: -EINVAL.
    for flags: UInt64 in [3, 4, 5, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff] {
      #expect(try update(map: 0, key: 0, flags: flags) == .success(negative(Errno.invalid)))
    }
    #expect(try update(map: 0, key: 1, flags: 1) == .success(negative(Errno.exists)))
    for key: UInt64 in [4, 0xffff_ffff] {
      #expect(try update(map: 0, key: key, flags: 0) == .success(negative(Errno.tooBig)))
    }
    #expect(try update(map: 1, key: 7, flags: 2) == .success(negative(Errno.notFound)))
    for address in hostileAddresses {
      let result = try update(map: 0, key: 0, flags: 0, value: set(.r3, address))
      guard case .failure(.memoryFault(_, address, 8, false)) = result else {
        Issue.record("value at 0x\(String(address, radix: 16)): \(result)")
        continue
      }
    }
    // A full hash map: the third key is -E2BIG, as hashtab.c says.
    var program: [Instruction] = []
    for key: UInt64 in [1, 2, 3] {
      program +=
        Self.keyOnStack(key) + Instruction.map(.r1, 1) + [
          .move(.r3, .r10), .add(.r3, immediate: -32), .move(.r4, immediate: 0),
          .call(helper: HelperFunction.mapUpdateElement.rawValue),
        ]
    }
    #expect(try probe.returnValue(program + [.exit]) == negative(Errno.tooBig))
  }

  @Test(arguments: EngineKind.allCases)
  func deleteGivesTheKernelsErrors(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine, maps: [Self.array, Self.hash, Self.devmap])
    func delete(map: Int, key: UInt64) throws -> UInt64 {
      try probe.returnValue(
        Self.call(.mapDeleteElement, after: Self.keyOnStack(key) + Instruction.map(.r1, map)).0)
    }
    #expect(try delete(map: 0, key: 0) == negative(Errno.invalid))
    #expect(try delete(map: 1, key: 9) == negative(Errno.notFound))
    // A program may not delete from a DEVMAP (`BPF_F_RDONLY_PROG`, the
    // verifier's `record_func_map`): refused before it runs.
    let refusal = MapAccessRefusal(index: 7, map: "ports", reason: "write into map forbidden")
    #expect(throws: PreparationError.mapAccess(refusal)) { try delete(map: 2, key: 3) }
    for address in hostileAddresses {
      let (program, at) = Self.call(
        .mapDeleteElement, after: Instruction.map(.r1, 1) + set(.r2, address))
      #expect(
        try probe.executionError(program)
          == .memoryFault(index: at, address: address, size: 8, write: false))
    }
  }

  @Test(arguments: EngineKind.allCases)
  func tailCallTakesTheIndexAsAU32(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine, maps: [Self.programs, Self.array])
    func tailCall(map: [Instruction], index: UInt64) throws -> Result<UInt64, ExecutionError> {
      let program =
        map + set(.r3, index) + [
          .call(helper: HelperFunction.tailCall.rawValue), .move(.r0, immediate: 1), .exit,
        ]
      let (result, _) = try probe.run(program) { machine in
        let target = try machine.prepare(
          Program(
            name: "target", sectionName: "xdp", instructions: [.move(.r0, immediate: 3), .exit]))
        try machine.maps[0].setProgram(target, at: 0)
      }
      return result.map(\.returnValue).mapError { error in
        guard case .execution(_, let execution) = error else { return .fellOffEnd(index: -1) }
        return execution
      }
    }
    #expect(try tailCall(map: Instruction.map(.r2, 0), index: 0) == .success(3))
    // The kernel reads the index as a u32: the high half is ignored.
    #expect(try tailCall(map: Instruction.map(.r2, 0), index: 0x1_0000_0000) == .success(3))
    for index: UInt64 in [1, 4, 0xffff_ffff, 0xffff_ffff_ffff_ffff] {
      #expect(try tailCall(map: Instruction.map(.r2, 0), index: index) == .success(1))
    }
    let refusal = ExecutionError.helperFault(
      index: Instruction.map(.r2, 1).count + 2, helper: 12, reason: "R2 is not a prog_array map")
    #expect(try tailCall(map: Instruction.map(.r2, 1), index: 0) == .failure(refusal))
    for address in Self.noMaps {
      #expect(
        try tailCall(map: set(.r2, address), index: 0)
          == .failure(
            .helperFault(index: 4, helper: 12, reason: "R2 is not a prog_array map")))
    }
  }

  @Test(arguments: EngineKind.allCases)
  func redirectAbortsOnAnyFlag(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine)
    for flags: UInt64 in [1, 2, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff] {
      let outcome = try probe.run(
        set(.r1, 7) + set(.r2, flags) + [.call(helper: HelperFunction.redirect.rawValue), .exit]
      ).result.get()
      #expect(outcome.returnValue == 0 && outcome.action == .aborted && outcome.redirect == nil)
    }
    // The interface index is a u32.
    let outcome = try probe.run(
      set(.r1, 0xffff_ffff_0000_0009) + [
        .move(.r2, immediate: 0), .call(helper: HelperFunction.redirect.rawValue), .exit,
      ]
    ).result.get()
    #expect(outcome.redirect == .interface(9))
  }

  @Test(arguments: EngineKind.allCases)
  func redirectMapChecksTheMapTheKeyAndTheFlags(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine, maps: [Self.devmap, Self.cpumap, Self.array])
    func redirect(map: [Instruction], key: UInt64, flags: UInt64) throws
      -> Result<PacketOutcome, RunError>
    {
      let program =
        map + set(.r2, key) + set(.r3, flags) + [
          .call(helper: HelperFunction.redirectMap.rawValue), .exit,
        ]
      return try probe.run(program) { machine in
        try machine.maps[0].update(key: BPFMap.key(3), value: le32(42))
        try machine.maps[1].update(key: BPFMap.key(1), value: le32(128))
      }.result
    }
    #expect(
      try redirect(map: Instruction.map(.r1, 0), key: 3, flags: 0).get().redirect
        == .device(map: 0, key: 3, interface: 42))
    // The key is a u32; a missing one returns the flags' action bits.
    #expect(
      try redirect(map: Instruction.map(.r1, 0), key: 0x1_0000_0003, flags: 0).get().redirect
        == .device(map: 0, key: 3, interface: 42))
    for key: UInt64 in [4, 8, 0xffff_ffff] {
      #expect(try redirect(map: Instruction.map(.r1, 0), key: key, flags: 2).get().returnValue == 2)
    }
    // Unknown flag bits: XDP_ABORTED; broadcast only on device maps.
    for flags: UInt64 in [0x20, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff] {
      #expect(
        try redirect(map: Instruction.map(.r1, 0), key: 3, flags: flags).get().returnValue == 0)
    }
    #expect(try redirect(map: Instruction.map(.r1, 1), key: 1, flags: 8).get().returnValue == 0)
    #expect(
      try redirect(map: Instruction.map(.r1, 0), key: 99, flags: 8 | 16).get().redirect
        == .broadcast(map: 0, excludingIngress: true))
    let callIndex = Instruction.map(.r1, 2).count + 4
    guard
      case .failure(.execution(_, .helperFault(callIndex, 51, let reason))) = try redirect(
        map: Instruction.map(.r1, 2), key: 0, flags: 0)
    else {
      Issue.record("an array map cannot redirect")
      return
    }
    #expect(reason == "map array (array) cannot redirect")
    for address in Self.noMaps {
      guard
        case .failure(.execution(_, .helperFault(6, 51, _))) = try redirect(
          map: set(.r1, address), key: 3, flags: 0)
      else {
        Issue.record("R1 0x\(String(address, radix: 16)) is no map")
        continue
      }
    }
  }

  @Test(arguments: EngineKind.allCases)
  func helpersWithoutArgumentsIgnoreTheRegisters(engine: EngineKind) throws {
    let probe = XDPProbe(engine: engine)
    let garbage = [Register.r1, .r2, .r3, .r4, .r5].flatMap { set($0, 0xdead_beef_dead_beef) }
    #expect(
      try probe.returnValue(
        garbage + [.call(helper: HelperFunction.ktimeGetNanoseconds.rawValue), .exit])
        == 1_000)
    #expect(
      try probe.returnValue(
        garbage + [.call(helper: HelperFunction.getSMPProcessorID.rawValue), .exit])
        == 0)
    let random = garbage + [.call(helper: HelperFunction.getPseudoRandomU32.rawValue), .exit]
    let first = try probe.returnValue(random)
    #expect(first <= UInt64(UInt32.max))
    #expect(try probe.returnValue(random) == first, "seeded: the same value each run")
  }

  @Test(arguments: EngineKind.allCases)
  func commitRedirectRefusesAnythingButABatchRecord(engine: EngineKind) throws {
    // Only the batch form calls it (the kernel's rules refuse its id in a
    // per-packet program); any R1 that is no runner's record is the
    // engine's error, never an entry in a table that grows.
    for address in hostileAddresses + [0x2000] {
      let machine = try Machine(configuration: MachineConfiguration(engine: engine))
      let program = try machine.prepare(
        instructions: set(.r1, address) + [
          .call(helper: HelperFunction.commitRedirect.rawValue), .exit,
        ])
      #expect(
        throws: ExecutionError.helperFault(
          index: 2, helper: HelperFunction.commitRedirect.rawValue,
          reason: "R1 is not a batch context record")
      ) {
        try machine.run(program, r1: 0)
      }
    }
  }
}
