import BPF

/// Stack, packet, context and map accesses.
extension CaseGenerator {
  /// A size and an offset aligned to it in `[-area, 0)` (or, through a
  /// pointer to a window, in `[0, length)`).
  mutating func slot(below area: Int, sizes: [AccessSize] = AccessSize.allCases) -> (
    AccessSize, Int16
  ) {
    let size = choices.pick(sizes)
    let bytes = size.bytes
    let offset = -bytes * (1 + choices.int(0...(area / bytes - 1)))
    return (size, Int16(offset))
  }

  mutating func window(length: Int, sizes: [AccessSize] = AccessSize.allCases) -> (
    AccessSize, Int16
  ) {
    let size = choices.pick(sizes)
    return (size, Int16(size.bytes * choices.int(0...(length / size.bytes - 1))))
  }

  /// A load (zero- or sign-extending) or a store of a scalar or an
  /// immediate: in the function's stack area, or (subprograms) through
  /// the caller's window in R6.
  mutating func stackAccess(_ function: inout FunctionBuilder) {
    let throughWindow = !function.isMain && choices.chance(40)
    let (size, offset) =
      throughWindow
      ? window(length: Self.sharedWindow.length) : slot(below: function.area)
    let base: Register = throughWindow ? .r6 : .r10
    function.emit(access(size, base: base, offset: offset, loadInto: function.scalars, function))
  }

  /// One access of `size` at `base + offset`: a load into one of
  /// `loadInto`, or a store from the scalars or of an immediate.
  mutating func access(
    _ size: AccessSize, base: Register, offset: Int16, loadInto: [Register],
    _ function: FunctionBuilder, storeFrom: [Register]? = nil
  ) -> Instruction {
    switch choices.int(0...3) {
    case 0: return .load(size, choices.pick(loadInto), from: base, offset: offset)
    case 1 where size != .doubleWord:
      return .loadSigned(size, choices.pick(loadInto), from: base, offset: offset)
    case 2:
      return .store(
        size, immediate: Int32(truncatingIfNeeded: choices.interesting()), to: base,
        offset: offset)
    default:
      return .store(size, choices.pick(storeFrom ?? function.scalars), to: base, offset: offset)
    }
  }

  /// An atomic operation (every kind, 32 or 64 bits) at an aligned offset.
  mutating func atomic(base: Register, area: Int, _ function: inout FunctionBuilder) {
    let (size, offset) = slot(below: area, sizes: [.word, .doubleWord])
    function.emit(
      .atomic(
        choices.pick(AtomicOperation.allCases), size, base, offset: offset,
        choices.pick(function.scalars)))
  }

  /// Loads and stores in the packet after the bounds check the verifier
  /// wants: `if data + N > data_end` skips them.
  mutating func packetAccess(_ function: inout FunctionBuilder) {
    guard function.isMain else { return stackAccess(&function) }
    let reach = choices.int(1...64)
    var accesses: [Instruction] = []
    for _ in 0..<choices.int(1...4) {
      let sizes = AccessSize.allCases.filter { $0.bytes <= reach }
      let size = choices.pick(sizes)
      let offset = Int16(choices.int(0...(reach - size.bytes)))
      accesses.append(
        access(size, base: .r2, offset: offset, loadInto: function.scalarsBesideR0, function))
    }
    function.emit([
      .load(.word, .r2, from: .r6, offset: 0), .load(.word, .r3, from: .r6, offset: 4),
      .move(.r4, .r2), .add(.r4, immediate: Int32(reach)),
      .jump(.jgt, .r4, .r3, offset: Int16(accesses.count)),
    ])
    function.emit(accesses)
  }

  /// `ingress_ifindex` or `rx_queue_index` into a scalar.
  mutating func contextField(_ function: inout FunctionBuilder) {
    guard function.isMain else { return stackAccess(&function) }
    function.emit(
      .load(.word, choices.pick(function.scalars), from: .r6, offset: choices.pick([12, 16])))
  }

  /// The key of `map` at r10 - 192 (4 bytes, or 8 for the hash map),
  /// sometimes past the array's end.
  mutating func key(for map: Int, _ function: inout FunctionBuilder) {
    let value = Int32(choices.int(0...7))
    if map == GeneratedCase.hashMap {
      function.emit(.store(.doubleWord, immediate: value, to: .r10, offset: -192 + 0))
    } else {
      function.emit(.store(.word, immediate: value, to: .r10, offset: -192))
    }
  }

  /// r2 = r10 + offset.
  func pointer(_ register: Register, _ offset: Int) -> [Instruction] {
    [.move(register, .r10), .add(register, immediate: Int32(offset))]
  }

  /// `map_lookup_elem`, then loads, stores and atomics in the value when
  /// it is not NULL; R0 is a scalar again after the block.
  mutating func mapLookup(_ function: inout FunctionBuilder) {
    guard function.area >= 192 else { return stackAccess(&function) }
    let map = choices.pick([GeneratedCase.arrayMap, GeneratedCase.hashMap, GeneratedCase.perCPUMap])
    let valueSize = Int(GeneratedCase.maps[map].valueSize)
    key(for: map, &function)
    function.emit(pointer(.r2, -192))
    function.emit(Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex))
    if flavor == .unrestricted && choices.chance(10) {
      // What the JIT's inline lookup hands to the engine's helper: a
      // handle that is no map, or a key pointer outside every region.
      function.emit(.move(choices.chance(50) ? .r1 : .r2, choices.pick(function.scalars)))
    }
    function.emit(.call(helper: HelperFunction.mapLookupElement.rawValue))
    var accesses: [Instruction] = []
    for _ in 0..<choices.int(1...3) {
      if choices.chance(30) {
        let (size, offset) = window(length: valueSize, sizes: [.word, .doubleWord])
        accesses.append(
          .atomic(
            choices.pick(AtomicOperation.allCases.filter { $0 != .compareExchange }), size, .r0,
            offset: offset, choices.pick(function.scalarsBesideR0)))
      } else {
        let (size, offset) = window(length: valueSize)
        accesses.append(
          access(
            size, base: .r0, offset: offset, loadInto: function.scalarsBesideR0, function,
            storeFrom: function.scalarsBesideR0))
      }
    }
    function.emit(.jump(.jeq, .r0, immediate: 0, offset: Int16(accesses.count)))
    function.emit(accesses)
    function.emit(.move(.r0, choices.pick(function.scalarsBesideR0)))
  }

  /// `map_update_elem` (value at r10 - 176) or `map_delete_elem`.
  mutating func mapUpdate(_ function: inout FunctionBuilder) {
    guard function.area >= 192 else { return stackAccess(&function) }
    let map = choices.pick([GeneratedCase.arrayMap, GeneratedCase.hashMap, GeneratedCase.perCPUMap])
    key(for: map, &function)
    function.emit(Instruction.loadImmediate64(.r1, UInt64(map), kind: .mapByIndex))
    function.emit(pointer(.r2, -192))
    if choices.chance(75) {
      function.emit(pointer(.r3, -176))
      let flags =
        flavor == .unrestricted && choices.chance(20)
        ? choices.interesting() : UInt64(choices.int(0...2))
      function.emit(Instruction.loadImmediate64(.r4, flags))
      function.emit(.call(helper: HelperFunction.mapUpdateElement.rawValue))
    } else {
      function.emit(.call(helper: HelperFunction.mapDeleteElement.rawValue))
    }
  }
}
