import BPF
import Engine
import Glibc
import Kernel

/// One queue's exchange with the kernel's maps: every
/// ``MapSharing/periodMilliseconds``, between two RX batches (the only
/// time its machine runs no program), the queue's worker
///
/// 1. folds what its engine changed in each exchanged map since the last
///    exchange into the kernel's map, as deltas (``DeltaFold``, run on
///    the worker's CPU: for a per-CPU map, into that CPU's slot);
/// 2. reads the kernel's map back (batch lookups where the kernel has
///    them) and makes its engine's view hold it: the fallback's and
///    other CPUs' counts, `xdpbatch map update`, bpftool, daemons.
///
/// Nothing runs the program between the two steps, so no change of the
/// engine's is lost or counted twice: after an exchange the view and
/// the base (what the view held when it last matched the kernel) are
/// both the kernel's values, and the next delta is what the program did
/// since. Redirect maps are only read, XSKMAP keys probed. Mapped arrays
/// need nothing: the engine works on the kernel's pages.
final class MapExchange {
  let shared: SharedMaps
  let machine: Machine
  /// Per exchanged map: its entries as of the last exchange (arrays:
  /// the non-zero ones).
  private var bases: [Int: [[UInt8]: [UInt8]]] = [:]
  /// Whether the view was loaded from the kernel once (the first
  /// exchange, made by ``init(_:machine:)``, only reads: the engine has
  /// changed nothing yet).
  private(set) var loaded = false
  /// Per array taking the flat path (``exchangeFlatArray(_:_:)``): its
  /// values as of the last exchange, `valueSize` bytes an index.
  var flatBases: [Int: [UInt8]] = [:]
  private var due: UInt64 = 0
  /// Why the last exchange failed in part, nil when it did not.
  private(set) var problem: String?
  /// Exchanges done, and the nanoseconds they took.
  private(set) var count: UInt64 = 0
  private(set) var nanoseconds: UInt64 = 0

  /// The most entries read from one kernel map per exchange.
  static let entryLimit = 1 << 16

  /// Reads the kernel's maps into `machine`'s view now, before its
  /// program runs on any frame: whatever the engine does afterwards is a
  /// change the next exchange folds. (A first read made later, by the
  /// queue's thread, overwrote what the engine had run before it: a
  /// datapath told to stop before that thread first got a CPU drained its
  /// RX ring into counts the read then replaced.)
  init(_ shared: SharedMaps, machine: Machine) {
    self.shared = shared
    self.machine = machine
    if isNeeded { exchangeIfDue(now: QueueWorker.now()) }
  }

  /// Whether any map needs exchanges at all.
  var isNeeded: Bool {
    shared.maps.contains { $0.sharing != .mapped && $0.sharing != .engineOwn }
  }

  /// Exchanges when a period has passed since the last one (`now` in
  /// monotonic nanoseconds); true when it did.
  @discardableResult
  func exchangeIfDue(now: UInt64) -> Bool {
    guard now >= due else { return false }
    // `now` may be the end of the last RX batch (the worker reads no clock
    // of its own for this check): the exchange is timed from its start.
    let start = QueueWorker.now()
    exchange()
    let end = QueueWorker.now()
    due = end &+ UInt64(MapSharing.periodMilliseconds) * 1_000_000
    count &+= 1
    nanoseconds &+= end &- start
    return true
  }

  /// Exchanges every map now.
  func exchange() {
    var problems: [String] = []
    for map in shared.maps where map.index < machine.maps.count {
      let engineMap = machine.maps[map.index]
      do throws(SystemCallError) {
        switch map.sharing {
        case .exchanged where Self.isFlatArray(map, engineMap):
          if let problem = try exchangeFlatArray(map, engineMap) { problems.append(problem) }
        case .exchanged:
          if let problem = try exchange(map, engineMap) { problems.append(problem) }
        case .read:
          apply(try Self.entries(of: map.kernel, processor: 0), to: engineMap)
        case .probed:
          if let probe = map.probe { apply(try Self.entries(of: probe), to: engineMap) }
        case .mapped, .engineOwn: break
        }
      } catch {
        problems.append("map \(map.name): \(error)")
      }
    }
    loaded = true
    problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
  }

  /// Folds the engine's changes of one map, then reads the kernel's map
  /// back into the engine. A fold that fails leaves the view and base
  /// as they were (the changes go with the next exchange); refused
  /// records are returned as a problem.
  private func exchange(_ map: SharedMaps.Map, _ engineMap: BPFMap) throws(SystemCallError)
    -> String?
  {
    let base = bases[map.index] ?? [:]
    var processor = Processes.currentCPU
    var problem: String?
    if loaded, let fold = map.fold {
      let records = changes(of: engineMap, since: base, map)
      if !records.isEmpty {
        let outcome = try fold.run(records)
        processor = outcome.processor
        // A key deleted meanwhile by someone else is deleted all the same.
        let refused = outcome.refused.filter {
          !($0.record.operation == .delete && $0.errno == .notFound)
        }
        if let first = refused.first {
          problem =
            "map \(map.name): the kernel refused \(refused.count) change(s) of the program's: \(first.errno.message)"
        }
      }
    }
    let fresh = try Self.entries(of: map.kernel, processor: processor, nonZeroOnly: map.isArray)
    apply(fresh, to: engineMap)
    bases[map.index] = fresh
    return problem
  }

  /// The records that carry what the program changed in `engineMap`
  /// since `base`: deltas of changed and added entries, deletions.
  private func changes(of engineMap: BPFMap, since base: [[UInt8]: [UInt8]], _ map: SharedMaps.Map)
    -> [DeltaFold.Record]
  {
    let lanes = map.lanes
    var records: [DeltaFold.Record] = []
    let present = map.isArray ? engineMap.storedKeys : engineMap.keys
    var seen = Set<[UInt8]>()
    for key in present {
      seen.insert(key)
      guard let value = engineMap.lookup(key: key),
        let delta = lanes.delta(from: base[key] ?? (map.isArray ? zeros(lanes) : nil), to: value)
      else { continue }
      records.append(DeltaFold.Record(operation: .add, key: key, delta: delta))
    }
    for (key, old) in base where !seen.contains(key) {
      if map.isArray {
        // An entry the program set to zero.
        if let delta = lanes.delta(from: old, to: zeros(lanes)) {
          records.append(DeltaFold.Record(operation: .add, key: key, delta: delta))
        }
      } else {
        records.append(DeltaFold.Record(operation: .delete, key: key, delta: []))
      }
    }
    return records
  }

  private func zeros(_ lanes: ValueLanes) -> [UInt8] {
    [UInt8](repeating: 0, count: lanes.valueSize)
  }

  /// Makes `engineMap` hold exactly `entries` (arrays: zero elsewhere).
  private func apply(_ entries: [[UInt8]: [UInt8]], to engineMap: BPFMap) {
    let isArray = engineMap.definition.type == .array || engineMap.definition.type == .perCPUArray
    let zero = [UInt8](repeating: 0, count: Int(engineMap.definition.valueSize))
    for key in isArray ? engineMap.storedKeys : engineMap.keys where entries[key] == nil {
      if isArray {
        try? engineMap.update(key: key, value: zero)
      } else {
        try? engineMap.delete(key: key)
      }
    }
    for (key, value) in entries where engineMap.lookup(key: key) != value {
      try? engineMap.update(key: key, value: value)
    }
  }

  /// The kernel map's entries: for a per-CPU map, `processor`'s value.
  static func entries(of map: KernelMap, processor: Int, nonZeroOnly: Bool = false)
    throws(SystemCallError) -> [[UInt8]: [UInt8]]
  {
    var entries: [[UInt8]: [UInt8]] = [:]
    for entry in try map.entries(limit: entryLimit) {
      let value = entry.copies[max(0, min(processor, entry.copies.count - 1))]
      if nonZeroOnly, value.allSatisfy({ $0 == 0 }) { continue }
      entries[entry.key] = value
    }
    return entries
  }

  /// The keys of an XSKMAP that hold a socket, each with its own index
  /// as the value (the engine resolves a redirect by key, not by value).
  static func entries(of probe: SocketMapProbe) throws(SystemCallError) -> [[UInt8]: [UInt8]] {
    var entries: [[UInt8]: [UInt8]] = [:]
    let size = Int(probe.valueSize)
    for key in try probe.present() {
      let bytes = BPFMap.key(key)
      entries[bytes] = Array((bytes + [UInt8](repeating: 0, count: max(0, size - 4))).prefix(size))
    }
    return entries
  }
}
