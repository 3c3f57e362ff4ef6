import BPF
import Engine
import Kernel
import Synchronization

/// The kernel's copies of the user's redirect maps (DEVMAP, DEVMAP_HASH,
/// CPUMAP, and which keys of an XSKMAP hold a socket), mirrored into every queue's engine: the software datapath's
/// engines hold map storage of their own, so without this a `xdpbatch map
/// update` of a DEVMAP (which writes the kernel's map of the fallback
/// program) would never reach `bpf_redirect_map` in the datapath.
///
/// The counters' flusher re-reads the kernel maps (``refresh()``) every
/// 50 ms and publishes a new generation when an entry changed; each queue's
/// worker applies the latest generation to its own machine between two RX
/// batches (``apply(_:to:)``), the only time its machine is not running,
/// since a machine is not thread-safe. XSKMAP entries cannot be read from
/// user space: a ``SocketMapProbe`` asks the kernel which keys (0–63) hold
/// a socket, and the engine's XSKMAP gets those keys, so a redirect to one
/// resolves to a socket target the datapath counts as failed (its own
/// sockets own the queues). Other maps are the engine's own state.
final class RedirectMapMirror: Sendable {
  /// Entries by engine map index, then key.
  typealias Entries = [Int: [[UInt8]: [UInt8]]]

  /// The most keys read from one map per refresh (each costs a syscall).
  static let keyLimit = 1 << 16

  /// One followed map: its index in the object's (and engine's) map table
  /// and the kernel's map of the fallback program.
  struct Source: Sendable {
    var index: Int
    /// The map's name in the object.
    var name: String
    var map: KernelMap
    /// For an XSKMAP: the probe that reads which keys hold a socket.
    var probe: SocketMapProbe?
  }

  /// The maps followed.
  let sources: [Source]
  /// The latest generation published (0: nothing read yet).
  let generation = Atomic<Int>(0)
  private let latest = Mutex<(generation: Int, entries: Entries)>((0, [:]))
  private let lastProblem = Mutex<String?>(nil)
  private let setupProblem: String?

  /// Follows the maps of `fallbackMaps` (the fallback program's maps, by
  /// object index) whose definition in `definitions` is a redirect map.
  /// An XSKMAP whose probe the kernel refuses is left out (its keys then
  /// miss in the engine), and the reason kept for ``problem``.
  init(fallbackMaps: [Int: KernelMap], definitions: [MapDefinition]) {
    var sources: [Source] = []
    var problem: String?
    for index in fallbackMaps.keys.sorted() {
      guard index < definitions.count, MapFollowing(definitions[index].type) == .followed,
        let map = fallbackMaps[index]
      else { continue }
      if definitions[index].type == .xskmap {
        do {
          sources.append(
            Source(
              index: index, name: definitions[index].name, map: map,
              probe: try SocketMapProbe(map)))
        } catch {
          problem = "probe XSKMAP \(definitions[index].name): \(error)"
        }
      } else {
        sources.append(Source(index: index, name: definitions[index].name, map: map))
      }
    }
    self.sources = sources
    setupProblem = problem
  }

  /// Reads every followed kernel map and publishes a new generation when
  /// an entry differs from the last one published. A map that cannot be
  /// read keeps its last entries; the failure is kept for ``problem``.
  func refresh() {
    guard !sources.isEmpty else {
      lastProblem.withLock { $0 = setupProblem }
      return
    }
    var entries = latest.withLock { $0.entries }
    var failure: String?
    for source in sources {
      do {
        entries[source.index] =
          try source.probe.map { probe throws(SystemCallError) in try Self.read(probe, source.map) }
          ?? Self.read(source.map)
      } catch {
        failure = "read redirect map \(source.name): \(error)"
      }
    }
    lastProblem.withLock { $0 = failure ?? setupProblem }
    latest.withLock { current in
      guard current.generation == 0 || current.entries != entries else { return }
      current = (current.generation + 1, entries)
      generation.store(current.generation, ordering: .releasing)
    }
  }

  /// The last refresh's failure, nil when every map was read.
  var problem: String? { lastProblem.withLock { $0 } }

  /// The latest generation and its entries.
  func snapshot() -> (generation: Int, entries: Entries) {
    latest.withLock { $0 }
  }

  /// Every entry of `map` (array-like maps list every index: the unset
  /// ones are absent from the lookup).
  static func read(_ map: KernelMap) throws(SystemCallError) -> [[UInt8]: [UInt8]] {
    var entries: [[UInt8]: [UInt8]] = [:]
    for entry in try map.entries(limit: keyLimit) {
      if let value = entry.copies.first { entries[entry.key] = value }
    }
    return entries
  }

  /// The keys of an XSKMAP that hold a socket, each with its own index as
  /// the value (the engine resolves a redirect by key, not by value).
  static func read(_ probe: SocketMapProbe, _ map: KernelMap) throws(SystemCallError) -> [[UInt8]:
    [UInt8]]
  {
    var entries: [[UInt8]: [UInt8]] = [:]
    let size = Int(map.info.valueSize)
    for key in try probe.present() {
      let bytes = BPFMap.key(key)
      entries[bytes] = Array((bytes + [UInt8](repeating: 0, count: max(0, size - 4))).prefix(size))
    }
    return entries
  }

  /// Makes `machine`'s copies of the followed maps hold `entries`: keys
  /// the kernel no longer has are deleted, changed values written. Call
  /// only from the thread that runs `machine`, between two runs.
  static func apply(_ entries: Entries, to machine: Machine) {
    for (index, wanted) in entries where index < machine.maps.count {
      let map = machine.maps[index]
      for key in map.keys where wanted[key] == nil { try? map.delete(key: key) }
      for (key, value) in wanted where map.lookup(key: key) != value {
        try? map.update(key: key, value: value)
      }
    }
  }
}
