import BPF
import Engine
import Kernel

/// The maps of the user's program as one software datapath shares them
/// with the kernel: for each map the kernel fallback holds, the kernel's
/// map, how it is shared (``MapSharing``) and what an exchange of it
/// needs. Built once when the datapath starts; every queue's
/// ``MapExchange`` uses it.
struct SharedMaps: Sendable {
  /// One map.
  struct Map: Sendable {
    /// Its index in the object's (and every engine's) map table.
    var index: Int
    /// Its name in the object.
    var name: String
    /// The kernel's map (the fallback program's).
    var kernel: KernelMap
    var sharing: MapSharing
    /// For ``MapSharing/exchanged``: the fold of the engines' changes.
    var fold: DeltaFold?
    /// For ``MapSharing/probed``: which keys hold a socket.
    var probe: SocketMapProbe?

    var isPerCPU: Bool { kernel.info.isPerCPU }
    var isArray: Bool { kernel.info.type == .array || kernel.info.type == .perCPUArray }
    var lanes: ValueLanes { ValueLanes(valueSize: Int(kernel.info.valueSize)) }
  }

  /// Every map of the fallback, by index.
  private(set) var maps: [Map]
  /// What could not be shared as the rule says, and why (nil: nothing).
  private(set) var problem: String?

  /// The maps of `fallbackMaps` (the fallback program's, by index in
  /// `definitions`, the object's map table). With `shared` false, only
  /// the redirect maps are followed (read or probed) and every other map
  /// is the engines' own: the datapath as it was before its maps were
  /// shared, kept as the bench's reference.
  init(fallbackMaps: [Int: KernelMap], definitions: [MapDefinition], shared: Bool = true) {
    var maps: [Map] = []
    var problems: [String] = []
    for index in fallbackMaps.keys.sorted() where index < definitions.count {
      guard let kernel = fallbackMaps[index] else { continue }
      let name = definitions[index].name
      var sharing = MapSharing(kernel.info.type, memoryMappable: kernel.info.isMemoryMappable)
      if !shared, sharing != .read, sharing != .probed { sharing = .engineOwn }
      var map = Map(index: index, name: name, kernel: kernel, sharing: sharing)
      switch sharing {
      case .exchanged:
        if let problem = Self.loadFold(&map) { problems.append(problem) }
      case .probed:
        do {
          map.probe = try SocketMapProbe(kernel)
        } catch {
          map.sharing = .engineOwn
          problems.append("probe XSKMAP \(name): \(error)")
        }
      case .mapped, .read, .engineOwn: break
      }
      maps.append(map)
    }
    self.maps = maps
    problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
  }

  /// Loads `map`'s fold; when its records cannot fit a fold or the
  /// kernel refuses the program, the map stays the engines' own and the
  /// reason is returned.
  private static func loadFold(_ map: inout Map) -> String? {
    guard DeltaFold.fits(map.kernel.info) else {
      map.sharing = .engineOwn
      return "map \(map.name): values of \(map.kernel.info.valueSize) bytes do not fit an exchange"
    }
    do {
      map.fold = try DeltaFold(map.kernel)
      return nil
    } catch {
      map.sharing = .engineOwn
      return "map \(map.name): the kernel refused its fold program: \(error)"
    }
  }

  /// Puts the kernel's pages of every mapped map in place of the values
  /// of each machine's copy (before any program runs). A map the host
  /// will not map into the first machine is exchanged instead, in all.
  ///
  /// - Throws: ``DatapathError/engine(program:reason:)`` when a later
  ///   machine refuses a map the first one took (they would then differ).
  mutating func share(into machines: [Machine], program: String) throws(DatapathError) {
    for position in maps.indices where maps[position].sharing == .mapped {
      let map = maps[position]
      for (number, machine) in machines.enumerated() {
        do {
          try machine.maps[map.index].share(memoryOf: map.kernel.descriptor.rawValue)
        } catch {
          guard number == 0 else { throw .engine(program: program, reason: "\(error)") }
          maps[position].sharing = .exchanged
          let note = "map \(map.name): exchanged, not mapped: \(error)"
          problem = [problem, note, Self.loadFold(&maps[position])].compactMap { $0 }
            .joined(separator: "; ")
          break
        }
      }
    }
  }

  /// The names of the maps the engines share with the kernel.
  var sharedNames: [String] { maps.filter(\.sharing.isShared).map(\.name) }

  /// How each map is shared, by name.
  var sharingByName: [String: MapSharing] {
    Dictionary(maps.map { ($0.name, $0.sharing) }, uniquingKeysWith: { first, _ in first })
  }
}
