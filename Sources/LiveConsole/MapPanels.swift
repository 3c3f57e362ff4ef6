import BPF
import Console
import Deployment
import Inspection
import Kernel

extension MapPanel {
  /// The maps of the program on `interface`, entries formatted from BTF
  /// (per-CPU maps: summed), zero values left out, at most `limit` entries
  /// a map. Empty when the interface runs no program. `state` holds the
  /// attachment records (for the types of maps loaded without BTF).
  static func read(interface: String, state: StateDirectory, limit: Int = 256) -> [MapPanel] {
    guard let deployed = try? DeployedProgram.on(interface),
      let maps = try? deployed.program.maps()
    else { return [] }
    let object = state.record(interface: interface)?.object
    return maps.map { map in
      let summary = map.info
      let kind = "\(summary.type), \(summary.maxEntries) entries"
      let typed = TypedMap(map: map, types: MapTypes.of(map, object: object))
      do {
        let entries = try typed.entries(limit: limit).filter { !$0.isZero }.map { entry in
          Entry(key: entry.key.description, value: (entry.sum ?? entry.value)?.description ?? "")
        }
        return MapPanel(name: summary.name, kind: kind, entries: entries)
      } catch {
        return MapPanel(name: summary.name, kind: kind, entries: [], problem: "\(error)")
      }
    }
  }
}
