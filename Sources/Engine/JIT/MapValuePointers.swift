import BPF

/// Which registers hold a map's handle, and which point into an array
/// map's value, and at what offset in it, before each slot: the part of the kernel verifier's
/// `PTR_TO_MAP_VALUE` tracking (`check_map_access` in
/// kernel/bpf/verifier.c) that lets the JIT leave an access within the
/// value unchecked, stricter than the verifier:
///
/// - a map is known only by its handle loaded as a 64-bit immediate
///   (`r1 = map ll`) and copied by `r = r'`, and only when it is an
///   array-indexed redirect map (DEVMAP, CPUMAP, XSKMAP: `redirect_map`
///   on it reads its ``RedirectSlots``, and no value is tracked) or when
///   its values lie in one region by construction (``Storage``: an ARRAY or
///   PERCPU_ARRAY whose every value, for the machine's processor, lies in
///   the reachable part of the one region that holds the first, checked
///   when compiling; a hash map of any flavour, whose slot's values are
///   made reachable in its values region before the slot is handed out,
///   ``BPFMap/makeReachable(slots:)``, and never become unreachable);
/// - `map_lookup_elem` with such a map in R1 leaves R0 a value or 0, and
///   only the edge of `if r0 == 0` / `if r0 != 0` (64-bit, immediate 0) on
///   which it is not 0 makes it a value (at offset 0);
/// - a value pointer moves only by `r += k` and `r -= k` (64-bit,
///   immediate) and stays within ±``limit`` of the value's start;
/// - any other write to a register forgets it; a call forgets every
///   register but the lookup's R0 (a helper may run Swift code, and a
///   subprogram has its own registers), an atomic its R0 and source, a
///   legacy packet load R0-R5; joins keep what every path agrees on.
///
/// An access of `size` bytes at a value pointer plus `offset` is proven
/// when it lies in `[0, value_size)` of the value, and a store only when
/// programs may store into the map's values (a DEVMAP_HASH's or `.rodata`
/// array's are read-only: the store stays checked and the write table
/// refuses it, as the interpreter does). The value's address
/// is what the lookup returned: the JIT's inline lookup and the engine's
/// helper both give `base + key * entryBytes` for `key < max_entries`
/// (``MapDescriptor``), inside the region ``Storage`` checked.
struct MapValuePointers {
  /// What a register holds.
  enum Value: Equatable {
    /// A map's handle.
    case map(UInt64)
    /// `map_lookup_elem`'s result on that map: a value of `size` bytes, or
    /// 0; `writable` unless programs may not store into it
    /// (``MapDefinition/programsMayWrite``).
    case valueOrNull(size: Int32, writable: Bool)
    /// A value of `size` bytes, plus `offset`.
    case value(offset: Int32, size: Int32, writable: Bool)
  }

  /// The maps whose values lie in one region, by handle: `value_size`.
  struct Storage {
    var valueSizes: [UInt64: Int32] = [:]
    /// The handles of those that are arrays (``MapDescriptor/inlineArray``).
    var arrays: Set<UInt64> = []
    /// DEVMAP, CPUMAP and XSKMAP by handle: the flags `redirect_map` on
    /// them takes (their values are not tracked: a lookup's R0 is unknown).
    var redirectFlags: [UInt64: UInt64] = [:]
    /// Those of ``valueSizes`` whose values programs may not store into:
    /// a store through their values is checked (against the write table,
    /// which refuses it).
    var readOnly: Set<UInt64> = []

    /// The array maps of `maps` whose every value for `processor` lies
    /// in the reachable part of the region holding the first value.
    init(maps: [BPFMap], processor: Int, space: AddressSpace) {
      for (index, map) in maps.enumerated() {
        let size = UInt64(map.definition.valueSize)
        if !map.definition.programsMayWrite { readOnly.insert(Machine.mapHandle(index)) }
        if map.kind == .hash, map.values != nil, size > 0, size <= UInt64(map.stride) {
          valueSizes[Machine.mapHandle(index)] = Int32(size)
          continue
        }
        let descriptor = MapDescriptor(map, processor: processor)
        if descriptor.redirects != 0, descriptor.redirectKind != 0 {
          redirectFlags[Machine.mapHandle(index)] = descriptor.redirectFlags
          continue
        }
        guard descriptor.kind == MapDescriptor.inlineArray, descriptor.entries > 0,
          let region = space.region(containing: descriptor.base)
        else { continue }
        let (span, overflow) = (descriptor.entries - 1).multipliedReportingOverflow(
          by: descriptor.entryBytes)
        let end = UInt64(region.start) + UInt64(space.reachableBytes(of: region))
        guard !overflow, size > 0, size <= descriptor.entryBytes,
          descriptor.base >= UInt64(region.start), descriptor.base + span + size <= end
        else { continue }
        valueSizes[Machine.mapHandle(index)] = Int32(size)
        arrays.insert(Machine.mapHandle(index))
      }
    }

    init() {}
  }

  /// Per slot, the values of R0-R9 before it; nil for a slot no path reaches.
  private(set) var before: [[Value?]?]

  /// Value offsets past this size are not tracked.
  static let limit: Int64 = 1 << 20

  /// ``Storage/arrays``.
  let arrays: Set<UInt64>
  /// ``Storage/redirectFlags``.
  let redirectFlags: [UInt64: UInt64]

  init(slots: UnsafeMutablePointer<Slot>, count: Int, storage: Storage) {
    arrays = storage.arrays
    redirectFlags = storage.redirectFlags
    before = SlotFlow.solveRegisters(slots: slots, count: count) {
      _, slot, next, state, reach in
      var state = state
      switch slot.operation.family {
      case .jump:
        var (taken, fallThrough) = (state, state)
        if slot.immediate == 0, slot.dst < 10,
          case .valueOrNull(let size, let writable) = state[Int(slot.dst)]
        {
          let value = Value.value(offset: 0, size: size, writable: writable)
          switch slot.operation {
          case .jeqK: fallThrough[Int(slot.dst)] = value
          case .jneK: taken[Int(slot.dst)] = value
          default: break
          }
        }
        reach(Int(slot.offset), taken)
        if slot.operation != .ja { reach(next, fallThrough) }
      case .call:
        guard slot.operation != .exit else { break }
        var result: Value?
        if slot.operation == .callHelper,
          slot.immediate == Int64(HelperFunction.mapLookupElement.rawValue),
          case .map(let handle) = state[1], let size = storage.valueSizes[handle]
        {
          result = .valueOrNull(size: size, writable: !storage.readOnly.contains(handle))
        }
        state = [Value?](repeating: nil, count: 10)
        state[0] = result
        reach(next, state)
      case .trap:
        break
      default:
        Self.apply(slot, to: &state, storage)
        reach(next, state)
      }
    }
  }

  /// The handle `register` holds before slot `index`, when it is one
  /// of the maps ``Storage`` knows on every path.
  func handle(in register: UInt8, at index: Int) -> UInt64? {
    guard register < 10, index < before.count, case .map(let handle) = before[index]?[Int(register)]
    else { return nil }
    return handle
  }

  /// Whether `size` bytes at `register` + `offset` lie in the map value
  /// `register` points into before slot `index`, and, for a store
  /// (`write`), programs may store into it.
  func proves(_ register: UInt8, _ offset: Int32, size: Int, write: Bool, at index: Int) -> Bool {
    guard register < 10, index < before.count,
      case .value(let base, let valueSize, let writable) = before[index]?[Int(register)],
      writable || !write
    else { return false }
    let start = Int64(base) + Int64(offset)
    return start >= 0 && start + Int64(size) <= Int64(valueSize)
  }

  private static func apply(_ slot: Slot, to state: inout [Value?], _ storage: Storage) {
    let dst = Int(slot.dst)
    switch slot.operation {
    case .loadImmediate64:
      guard dst < 10 else { return }
      let handle = UInt64(bitPattern: slot.immediate)
      let known = storage.valueSizes[handle] != nil || storage.redirectFlags[handle] != nil
      state[dst] = known ? .map(handle) : nil
    case .mov64X:
      guard dst < 10 else { return }
      state[dst] = slot.src < 10 ? state[Int(slot.src)] : nil
    case .add64K, .sub64K:
      guard dst < 10 else { return }
      guard case .value(let offset, let size, let writable) = state[dst] else {
        state[dst] = nil
        return
      }
      let moved = Int64(offset) + (slot.operation == .add64K ? slot.immediate : -slot.immediate)
      state[dst] =
        abs(moved) <= limit ? .value(offset: Int32(moved), size: size, writable: writable) : nil
    default:
      switch slot.operation.family {
      case .arithmetic, .byteOrder, .load:
        if dst < 10 { state[dst] = nil }
      case .atomic:
        state[0] = nil
        if slot.src < 10 { state[Int(slot.src)] = nil }
      case .packetLoad:
        for register in 0...5 { state[register] = nil }
      default: break
      }
    }
  }
}
