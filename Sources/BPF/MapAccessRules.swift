/// What the kernel's verifier refuses of an XDP program's use of its maps'
/// values and of the map helpers, by the maps' kinds and creation flags
/// (kernel/bpf/verifier.c):
///
/// - a load or store through a pointer into a map's value that the map's
///   flags forbid (`check_map_access_type`: "write into map forbidden,
///   value_size=V off=O size=S" on a `BPF_F_RDONLY_PROG` map, which libbpf
///   makes of `.rodata` and DEVMAP and DEVMAP_HASH always are; "read from
///   map forbidden, …" on a `BPF_F_WRONLY_PROG` map), the same for a
///   helper's memory argument (`check_helper_mem_access`: `xdp_load_bytes`
///   fills its buffer, the others read theirs) and for an atomic
///   operation (a read, then a write);
/// - a store through XSKMAP's lookup, which gives a read-only
///   `struct bpf_xdp_sock` ("R0 cannot write into xdp_sock", "BPF_ATOMIC
///   stores into R0 xdp_sock is not allowed"), and such a pointer as a
///   helper's memory argument;
/// - `map_update_elem` and `map_delete_elem` on a `BPF_F_RDONLY_PROG` map
///   ("write into map forbidden", `record_func_map`), and the map helpers
///   a map kind does not take ("cannot pass map_type 16 into func
///   bpf_map_lookup_elem#1", `check_map_func_compatibility`: CPUMAP takes
///   only `redirect_map`, XSKMAP also `map_lookup_elem`).
///
/// Values are followed as the verifier types them, over every path at once
/// (a register that may hold such a pointer on one path is checked as
/// one): a map by its `ld_imm64` (source 5) and copies, a value by
/// `ld_imm64` source 6 or `map_lookup_elem`'s result, moved by constants
/// (any other arithmetic keeps the pointer at an unknown offset: the
/// verifier refuses every store through what it makes of it), spilled to
/// and filled from the stack at constant offsets from R10, and handed to a
/// bpf-to-bpf callee in R1 - R5. A pointer laundered through a map value
/// or a callee's return is not followed: the engine refuses a store into
/// such a value at run time as well (its write table).
public enum MapAccessRules {
  /// The first use of `maps` (the program's map table, by `ld_imm64`
  /// index) the verifier refuses, or nil.
  public static func firstRefusal(in instructions: [Instruction], maps: [MapDefinition])
    -> MapAccessRefusal?
  {
    var flow = MapValueFlow(instructions: instructions, maps: maps)
    return flow.run()
  }
}

/// A use of a map the kernel's verifier refuses, naming the map.
public struct MapAccessRefusal: Error, Hashable, Sendable, CustomStringConvertible {
  /// The instruction.
  public var index: Int
  /// The map's name.
  public var map: String
  /// What the verifier's log says.
  public var reason: String

  /// Describes a refusal.
  public init(index: Int, map: String, reason: String) {
    self.index = index
    self.map = map
    self.reason = reason
  }

  /// `instruction 7: the kernel refuses this in an XDP program: write into
  /// map forbidden, value_size=4 off=0 size=4 (map tx_port)`.
  public var description: String {
    "instruction \(index): the kernel refuses this in an XDP program: \(reason) (map \(map))"
  }
}

struct MapValueFlow {
  let instructions: [Instruction]
  let maps: [MapDefinition]
  var states: [MapValueState?]
  var work: [Int] = []

  init(instructions: [Instruction], maps: [MapDefinition]) {
    self.instructions = instructions
    self.maps = maps
    states = Array(repeating: nil, count: instructions.count)
  }

  mutating func run() -> MapAccessRefusal? {
    var entry = MapValueState()
    entry.registers[10] = MapValueFacts(stack: .known([0]))
    merge(entry, into: 0)
    while let index = work.popLast() {
      guard let state = states[index] else { continue }
      if let refusal = step(index, state) { return refusal }
    }
    return nil
  }

  private mutating func merge(_ state: MapValueState, into index: Int) {
    guard index >= 0, index < instructions.count else { return }
    let merged = states[index].map { $0.union(state) } ?? state
    if merged != states[index] {
      states[index] = merged
      work.append(index)
    }
  }

  private mutating func step(_ index: Int, _ input: MapValueState) -> MapAccessRefusal? {
    let instruction = instructions[index]
    var state = input
    let dst = Int(instruction.dst.rawValue)
    let src = Int(instruction.src.rawValue)
    let size = Int64(instruction.accessSize?.bytes ?? 8)
    switch instruction.instructionClass {
    case .alu, .alu64:
      if let refused = uncheckedArithmetic(index, instruction, state) { return refused }
      var result = arithmetic(instruction, state.registers[dst], state.registers[src])
      if instruction.instructionClass == .alu {
        let constant = result.constant.map { Int64(UInt32(truncatingIfNeeded: $0)) }
        result = result.scrambled
        result.constant = constant
      }
      state.registers[dst] = result
    case .ld:
      if instruction.isWideImmediateLoad {
        state.registers[dst] = wideLoad(index)
        merge(state, into: index + 2)
        return nil
      }
      state.registers[0] = .unknown
    case .ldx:
      let base = state.registers[src]
      if let refused = check(index, base: src, base, offset: instruction.offset, size, .load) {
        return refused
      }
      state.registers[dst] = load(state, base: base, offset: instruction.offset, size: size)
    case .st, .stx:
      let base = state.registers[dst]
      let atomic = instruction.accessMode == .atomic
      if let refused = check(
        index, base: dst, base, offset: instruction.offset, size, atomic ? .atomic : .store)
      {
        return refused
      }
      let value = instruction.instructionClass == .st || atomic ? .unknown : state.registers[src]
      write(&state, base: base, value, offset: instruction.offset, size: size)
      if atomic, AtomicOperation(rawValue: instruction.immediate)?.fetches == true {
        state.registers[
          instruction.immediate == AtomicOperation.compareExchange.rawValue ? 0 : src] =
          .unknown
      }
    case .jmp, .jmp32:
      return jump(index, instruction, state)
    }
    merge(state, into: index + 1)
    return nil
  }

  private func wideLoad(_ index: Int) -> MapValueFacts {
    let first = instructions[index]
    let map = Int(first.immediate)
    switch first.src.rawValue {
    case ImmediateLoadKind.mapByIndex.rawValue where maps.indices.contains(map):
      return MapValueFacts(handles: [map])
    case ImmediateLoadKind.mapValueByIndex.rawValue where maps.indices.contains(map):
      let offset = index + 1 < instructions.count ? instructions[index + 1].immediate : 0
      return MapValueFacts(values: [map: .known([Int64(UInt32(bitPattern: offset))])])
    case ImmediateLoadKind.value.rawValue where index + 1 < instructions.count:
      let high = UInt64(UInt32(bitPattern: instructions[index + 1].immediate)) << 32
      return MapValueFacts(
        constant: Int64(bitPattern: high | UInt64(UInt32(bitPattern: first.immediate))))
    default:
      return .unknown
    }
  }

  private mutating func jump(_ index: Int, _ instruction: Instruction, _ input: MapValueState)
    -> MapAccessRefusal?
  {
    var state = input
    if instruction.isExit { return nil }
    if instruction.isLocalCall {
      var entry = MapValueState()
      for register in 1...5 {
        var argument = state.registers[register]
        argument.stack = nil  // the caller's frame: not this function's slots
        entry.registers[register] = argument
      }
      entry.registers[10] = MapValueFacts(stack: .known([0]))
      merge(entry, into: index + 1 + Int(instruction.immediate))
      for register in 0...5 { state.registers[register] = .unknown }
      merge(state, into: index + 1)
      return nil
    }
    if instruction.isCall {
      var result = MapValueFacts.unknown
      if instruction.isHelperCall {
        switch helperCall(index, instruction.immediate, state) {
        case .refused(let refusal): return refusal
        case .returns(let facts): result = facts
        }
      }
      for register in 1...5 { state.registers[register] = .unknown }
      state.registers[0] = result
      merge(state, into: index + 1)
      return nil
    }
    let targets = instruction.branchTargets(at: index)
    if let results = nullCheck(instruction, state), targets.count == 2 {
      // `jeq r, 0` jumps where the value is null, `jne r, 0` where it is not.
      let jumpsOnNull = instruction.jumpOperation == .jeq
      merge(state.checked(results, null: jumpsOnNull), into: targets[0])
      merge(state.checked(results, null: !jumpsOnNull), into: targets[1])
      return nil
    }
    for target in targets { merge(state, into: target) }
    return nil
  }

  private func arithmetic(_ instruction: Instruction, _ dst: MapValueFacts, _ src: MapValueFacts)
    -> MapValueFacts
  {
    let register = instruction.operandSource == .register
    let operand = register ? src.constant : Int64(instruction.immediate)
    switch instruction.arithmeticOperation {
    case .mov where instruction.offset == 0:
      return register ? src : MapValueFacts(constant: Int64(instruction.immediate))
    case .mov:
      return register ? src.scrambled : .unknown
    case .add where !register || !src.isPointer:
      return dst.moved(by: operand)
    case .sub where !register || !src.isPointer:
      return dst.moved(by: operand.map { 0 &- $0 })
    default:
      // Any other arithmetic on a pointer keeps it at an unknown offset.
      return register ? dst.union(src).scrambled : dst.scrambled
    }
  }

  private enum Access { case load, store, atomic }

  /// Checks an access of `size` bytes at `offset` through register `base`.
  private func check(
    _ index: Int, base register: Int, _ base: MapValueFacts, offset: Int16, _ size: Int64,
    _ access: Access
  ) -> MapAccessRefusal? {
    // Not yet checked for null: not a map value to the verifier
    // (`check_mem_access`), whatever its map's flags.
    if !base.unchecked.isEmpty, let map = base.values.keys.min() {
      return refusal(index, map, "R\(register) invalid mem access '\(nullableName(map))'")
    }
    for (map, offsets) in base.values.sorted(by: { $0.key < $1.key }) {
      let definition = maps[map]
      if definition.type == .xskmap {
        switch access {
        case .load: continue
        case .store:
          return refusal(index, map, "R\(register) cannot write into xdp_sock")
        case .atomic:
          return refusal(index, map, "BPF_ATOMIC stores into R\(register) xdp_sock is not allowed")
        }
      }
      let at = offsets.first &+ Int64(offset)
      if access != .store, !definition.programsMayRead {
        return forbidden(index, map, read: true, at: at, size: size)
      }
      if access != .load, !definition.programsMayWrite {
        return forbidden(index, map, read: false, at: at, size: size)
      }
    }
    return nil
  }

  private func forbidden(_ index: Int, _ map: Int, read: Bool, at offset: Int64, size: Int64?)
    -> MapAccessRefusal
  {
    let size = size.map { " size=\($0)" } ?? ""
    return refusal(
      index, map,
      "\(read ? "read from" : "write into") map forbidden, value_size=\(maps[map].valueSize)"
        + " off=\(offset)\(size)")
  }

  func refusal(_ index: Int, _ map: Int, _ reason: String) -> MapAccessRefusal {
    MapAccessRefusal(index: index, map: maps[map].name, reason: reason)
  }

  private enum HelperOutcome {
    case refused(MapAccessRefusal)
    case returns(MapValueFacts)
  }

  /// The map helpers' refusals, and their memory arguments'.
  private func helperCall(_ index: Int, _ id: Int32, _ state: MapValueState) -> HelperOutcome {
    let r = state.registers
    let helper = HelperFunction(rawValue: id)
    // (register, bytes, written) of each memory argument.
    var memory: [(Int, Int64?, Bool)] = []
    let keySize = r[1].handles.first.map { Int64(maps[$0].keySize) }
    switch helper {
    case .mapLookupElement, .mapDeleteElement: memory = [(2, keySize, false)]
    case .mapUpdateElement:
      memory = [
        (2, keySize, false), (3, r[1].handles.first.map { Int64(maps[$0].valueSize) }, false),
      ]
    case .tracePrintk: memory = [(1, r[2].constant, false)]
    case .checksumDiff: memory = [(1, r[2].constant, false), (3, r[4].constant, false)]
    case .xdpLoadBytes: memory = [(3, r[4].constant, true)]
    case .xdpStoreBytes: memory = [(3, r[4].constant, false)]
    default: break
    }
    for (register, size, written) in memory {
      // A lookup's result not checked for null is refused for its type,
      // in words this check does not keep: left to the run-time checks.
      if !r[register].unchecked.isEmpty { continue }
      for (map, offsets) in r[register].values.sorted(by: { $0.key < $1.key }) {
        let definition = maps[map]
        if definition.type == .xskmap {
          return .refused(
            refusal(
              index, map,
              "R\(register) type=xdp_sock expected=fp, pkt, pkt_meta, map_key, map_value, mem,"
                + " ringbuf_mem, buf, trusted_ptr_"))
        }
        if written ? !definition.programsMayWrite : !definition.programsMayRead {
          return .refused(forbidden(index, map, read: !written, at: offsets.first, size: size))
        }
      }
    }
    guard
      helper == .mapLookupElement || helper == .mapUpdateElement
        || helper == .mapDeleteElement
    else { return .returns(.unknown) }
    var result = MapValueFacts.unknown
    for map in r[1].handles.sorted() {
      let definition = maps[map]
      if helper != .mapLookupElement, definition.isReadOnlyForPrograms {
        return .refused(refusal(index, map, "write into map forbidden"))
      }
      let takes =
        definition.type == .cpumap
        ? false : definition.type != .xskmap || helper == .mapLookupElement
      guard takes else {
        return .refused(
          refusal(
            index, map, "cannot pass map_type \(definition.type.rawValue) into func \(helper)"))
      }
      result.values[map] = .known([0])
      if Self.nullableLookups.contains(definition.type) { result.unchecked = [index] }
    }
    return .returns(helper == .mapLookupElement ? result : .unknown)
  }

  /// What a load of `size` bytes at `base` + `offset` yields: a spilled
  /// value back from its 8-byte slot.
  private func load(_ state: MapValueState, base: MapValueFacts, offset: Int16, size: Int64)
    -> MapValueFacts
  {
    guard case .known(let offsets)? = base.stack, size >= 4 else { return .unknown }
    var value: MapValueFacts?
    for start in offsets {
      let address = start &+ Int64(offset)
      let slot = state.slots[address & ~7] ?? .unknown
      let read = size == 8 && address & 7 == 0 ? slot : slot.scrambled
      value = value.map { $0.union(read) } ?? read
    }
    return value ?? .unknown
  }

  /// Writes `value` through `base`.
  private func write(
    _ state: inout MapValueState, base: MapValueFacts, _ value: MapValueFacts, offset: Int16,
    size: Int64
  ) {
    guard case .known(let offsets)? = base.stack else { return }
    // Fewer than 4 bytes of a pointer are no pointer.
    let value = size >= 4 ? value : .unknown
    if offsets.count == 1, let start = offsets.first {
      let address = start &+ Int64(offset)
      state.slots[address & ~7] = size == 8 && address & 7 == 0 ? value : value.scrambled
      return
    }
    for start in offsets {
      let key = (start &+ Int64(offset)) & ~7
      state.slots[key] = (state.slots[key] ?? .unknown).union(value.scrambled)
    }
  }
}
