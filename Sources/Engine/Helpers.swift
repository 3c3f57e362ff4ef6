import BPF

/// The helper functions the engine implements, by kernel id.
enum Helpers {
  /// Ids a program may call.
  static let known: Set<Int32> = [
    HelperFunction.mapLookupElement, .mapUpdateElement, .mapDeleteElement, .ktimeGetNanoseconds,
    .tracePrintk, .getPseudoRandomU32, .getSMPProcessorID, .tailCall, .redirect, .checksumDiff,
    .xdpAdjustHead, .redirectMap, .xdpAdjustMeta, .xdpAdjustTail, .xdpLoadBytes, .xdpStoreBytes,
    .commitRedirect,
  ].reduce(into: []) { $0.insert($1.rawValue) }
  /// In bpf_conformance mode, helper 5 returns its first argument (uBPF's
  /// `unwind` test helper).
  static let conformanceUnwind: Int32 = 5
  /// `XDP_REDIRECT`.
  static let redirectVerdict: UInt64 = 4
}

extension Machine {
  /// Calls helper `id` with R1–R5 and returns its R0. `executed` is the
  /// number of instructions the run has executed so far (the call
  /// included): a helper's own work counts against the same budget
  /// (``chargeHelperWork(bytes:_:)``).
  ///
  /// Every argument is the program's: nothing here may trap on any value.
  /// A bad argument gives the kernel's return value (a negative errno, or
  /// the verdict the kernel returns); an argument the kernel's verifier
  /// would have refused (a pointer outside every region, a map handle
  /// that is no map) stops the run with the engine's error.
  func callHelper(_ id: Int32, index: Int, executed: Int) throws(ExecutionError) -> UInt64 {
    instructionsAtHelperCall = executed
    let r = registers
    switch id {
    case HelperFunction.mapLookupElement.rawValue:
      let map = try mapArgument(r[1], id, index)
      if map.kind == .array {
        // The 4-byte key is read in place: no copy for the common lookup.
        guard let key = addressSpace.readWord(r[2]) else {
          throw .memoryFault(index: index, address: r[2], size: 4, write: false)
        }
        guard key < map.definition.maxEntries else { return 0 }
        return map.valueAddress(slot: Int(key), processor: Int(configuration.processorID))
      }
      guard map.kind != .programArray else {
        throw .helperFault(index: index, helper: id, reason: "prog_array values cannot be read")
      }
      let key = try mapKey(r[2], map, index)
      guard let slot = map.slot(for: key) else { return 0 }
      return map.valueAddress(slot: slot, processor: Int(configuration.processorID))
    case HelperFunction.mapUpdateElement.rawValue:
      let map = try mapArgument(r[1], id, index)
      let key = try mapKey(r[2], map, index)
      try chargeHelperWork(bytes: Int(map.definition.valueSize), index)
      let value = try bytes(at: r[3], count: Int(map.definition.valueSize), index)
      let processor = map.processors > 1 ? Int(configuration.processorID) : nil
      do {
        return errno(try map.update(key: key, value: value, flags: r[4], processor: processor))
      } catch {
        throw .helperFault(index: index, helper: id, reason: error.description)
      }
    case HelperFunction.mapDeleteElement.rawValue:
      let map = try mapArgument(r[1], id, index)
      return errno(map.delete(key: try mapKey(r[2], map, index)))
    case HelperFunction.ktimeGetNanoseconds.rawValue:
      if configuration.conformanceHelpers { return r[1] }
      return now()
    case HelperFunction.tracePrintk.rawValue:
      return try tracePrintk(index)
    case HelperFunction.getPseudoRandomU32.rawValue:
      return UInt64(nextRandom())
    case HelperFunction.getSMPProcessorID.rawValue:
      return UInt64(configuration.processorID)
    case HelperFunction.redirect.rawValue:
      guard r[2] == 0 else { return 0 }
      pendingRedirect = .interface(UInt32(truncatingIfNeeded: r[1]))
      return Helpers.redirectVerdict
    case HelperFunction.redirectMap.rawValue:
      return try redirectMap(r[1], key: UInt32(truncatingIfNeeded: r[2]), flags: r[3], id, index)
    case HelperFunction.checksumDiff.rawValue:
      return try checksumDifference(index)
    case HelperFunction.xdpAdjustHead.rawValue:
      return try adjustHead(index)
    case HelperFunction.xdpAdjustMeta.rawValue:
      return try adjustMeta(index)
    case HelperFunction.xdpAdjustTail.rawValue:
      return try adjustTail(index)
    case HelperFunction.xdpLoadBytes.rawValue:
      return try copyPacketBytes(store: false, index)
    case HelperFunction.xdpStoreBytes.rawValue:
      return try copyPacketBytes(store: true, index)
    case HelperFunction.commitRedirect.rawValue:
      // Only a runner's own records hold a redirect: any other R1 is the
      // engine's error, never an entry in a table that could grow.
      // The JIT emits this commit inline for the records of the batch
      // being run (JITCompiler.emitRedirectCommit); the same copy here.
      let slot = r[1] &+ UInt64(XDPContextLayout.engineRedirectSlot)
      let pending = pendingRedirectWords
      guard packetFrames.commit(pending, at: r[1]),
        addressSpace.writeWord(pending.value, at: slot)
      else {
        throw .helperFault(index: index, helper: id, reason: "R1 is not a batch context record")
      }
      pendingRedirectWords = .none
      return 0
    default:
      throw .helperFault(index: index, helper: id, reason: "not implemented")
    }
  }

  /// A negative errno as the 64-bit value helpers return.
  func errno(_ code: Int32) -> UInt64 { UInt64(bitPattern: Int64(code)) }

  func mapArgument(_ handle: UInt64, _ id: Int32, _ index: Int) throws(ExecutionError) -> BPFMap {
    guard let map = map(handle: handle) else {
      throw .helperFault(
        index: index, helper: id, reason: "R1 (0x\(String(handle, radix: 16))) is not a map")
    }
    return map
  }

  /// Copies bytes a helper argument points to, or faults naming the address.
  func bytes(at address: UInt64, count: Int, _ index: Int) throws(ExecutionError) -> [UInt8] {
    if count == 0 { return [] }
    guard let bytes = addressSpace.read(address, count: count) else {
      throw .memoryFault(index: index, address: address, size: count, write: false)
    }
    return bytes
  }

  /// The key a map helper's argument points to (`key_size` bytes).
  private func mapKey(_ address: UInt64, _ map: BPFMap, _ index: Int) throws(ExecutionError)
    -> [UInt8]
  {
    try chargeHelperWork(bytes: Int(map.definition.keySize), index)
    return try bytes(at: address, count: Int(map.definition.keySize), index)
  }

  /// Bytes of a helper's own work (copied, summed, scanned or formatted)
  /// that count as one instruction against the run's budget.
  static let helperWorkPerInstruction = 64

  /// Counts `bytes` of a helper's work against the run's instruction
  /// budget, one instruction per ``helperWorkPerInstruction`` bytes, so
  /// that no helper call does more work than the budget allows however
  /// large the sizes a program passes (the executed-instruction count is
  /// not changed: it stays the number of instructions, as in the kernel).
  ///
  /// - Throws: ``ExecutionError/instructionBudgetExceeded(index:budget:)``
  ///   at the call when the instructions executed and the work so far
  ///   would pass the budget.
  /// The most bytes of work the current helper call may still do before
  /// the run's budget is spent.
  var helperWorkAllowance: Int {
    let granule = Self.helperWorkPerInstruction
    let left = configuration.instructionBudget &- instructionsAtHelperCall &- helperWork
    guard left > 0 else { return granule - 1 }
    let (bytes, overflow) = left.multipliedReportingOverflow(by: granule)
    return overflow || bytes > Int.max - granule ? Int.max : bytes + granule - 1
  }

  func chargeHelperWork(bytes: Int, _ index: Int) throws(ExecutionError) {
    guard bytes >= Self.helperWorkPerInstruction else { return }
    let budget = configuration.instructionBudget
    helperWork &+= bytes / Self.helperWorkPerInstruction
    if instructionsAtHelperCall > budget &- helperWork {
      throw .instructionBudgetExceeded(index: index, budget: budget)
    }
  }

  /// `bpf_csum_diff(from, from_size, to, to_size, seed)` as Linux 6.13
  /// and later compute it (net/core/filter.c): no size check beyond what
  /// the verifier proves (both regions readable for their sizes), summed
  /// in place, the work charged to the budget. Kernels before 6.13
  /// refused sizes that are not multiples of 4 or add up to more than
  /// 512 bytes; the 6.18 kernel these tests run on returns a checksum for
  /// them, and so does the engine.
  private func checksumDifference(_ index: Int) throws(ExecutionError) -> UInt64 {
    let r = registers
    let fromSize = Int(UInt32(truncatingIfNeeded: r[2]))
    let toSize = Int(UInt32(truncatingIfNeeded: r[4]))
    let from = try readable(r[1], count: fromSize, index)
    let to = try readable(r[3], count: toSize, index)
    try chargeHelperWork(bytes: fromSize + toSize, index)
    return UInt64(Checksum.difference(from: from, to: to, seed: UInt32(truncatingIfNeeded: r[5])))
  }

  /// The bytes at `address`, in place (no copy), or a fault naming them.
  func readable(_ address: UInt64, count: Int, _ index: Int) throws(ExecutionError)
    -> UnsafeRawBufferPointer
  {
    if count == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let pointer = addressSpace.pointer(address, count: count) else {
      throw .memoryFault(index: index, address: address, size: count, write: false)
    }
    return UnsafeRawBufferPointer(start: pointer, count: count)
  }

  private func now() -> UInt64 {
    if let fixed = configuration.fixedClock {
      defer { clockTicks += 1 }
      return fixed.start &+ fixed.step &* clockTicks
    }
    let elapsed = ContinuousClock.now - clockOrigin
    let (seconds, attoseconds) = elapsed.components
    return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
  }

  /// splitmix64, seeded from the configuration.
  func nextRandom() -> UInt32 {
    randomState &+= 0x9e37_79b9_7f4a_7c15
    var z = randomState
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return UInt32(truncatingIfNeeded: z ^ (z >> 31))
  }

  /// `bpf_redirect_map` as `__bpf_xdp_redirect_map` in net/core/filter.c.
  private func redirectMap(
    _ handle: UInt64, key: UInt32, flags: UInt64, _ id: Int32, _ index: Int
  ) throws(ExecutionError) -> UInt64 {
    let map = try mapArgument(handle, id, index)
    let actionMask: UInt64 = 3
    let broadcast: UInt64 = 1 << 3
    let excludeIngress: UInt64 = 1 << 4
    let type = map.definition.type
    let flagMask: UInt64
    switch type {
    case .devmap, .devmapHash: flagMask = broadcast | excludeIngress
    case .cpumap, .xskmap: flagMask = 0
    default:
      throw .helperFault(
        index: index, helper: id, reason: "map \(map.definition.name) (\(type)) cannot redirect")
    }
    guard flags & ~(actionMask | flagMask) == 0 else { return 0 }
    if flags & broadcast != 0 {
      pendingRedirect = .broadcast(map: map.index, excludingIngress: flags & excludeIngress != 0)
      return Helpers.redirectVerdict
    }
    // DEVMAP, CPUMAP, XSKMAP: the map's redirect table, as the JIT reads it.
    if let redirects = map.redirects {
      let words = redirects[key]
      pendingRedirect = words.target
      return words.kind == 0 ? flags & actionMask : Helpers.redirectVerdict
    }
    // DEVMAP_HASH: the entry's value holds the interface.
    guard let slot = map.slot(for: BPFMap.key(key)) else {
      pendingRedirect = nil
      return flags & actionMask
    }
    let interface = addressSpace.readWord(map.valueAddress(slot: slot, processor: 0)) ?? 0
    pendingRedirect = .device(map: map.index, key: key, interface: interface)
    return Helpers.redirectVerdict
  }
}
