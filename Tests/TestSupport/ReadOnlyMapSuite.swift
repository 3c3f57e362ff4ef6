import BPF

/// The maps of the suites on map values programs may not write or read,
/// the engine's (`ReadOnlyMapValueTests`) and the kernel verifier's
/// (`ReadOnlyMapFidelityTests`), so both judge the same maps: one of each
/// kind whose values programs may not write (a DEVMAP, `.rodata`, a
/// CPUMAP, an XSKMAP, a DEVMAP_HASH), a plain array, and an array
/// programs may not read. A suite that conforms names them by index.
public protocol ReadOnlyMapSuite {}

extension ReadOnlyMapSuite {
  public static var maps: [MapDefinition] {
    [
      MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 4),
      MapDefinition(
        name: "xdp_prog.rodata", type: .array, keySize: 4, valueSize: 16, maxEntries: 1,
        flags: MapDefinition.readOnlyForPrograms, initialValue: Array(1...16)),
      MapDefinition(name: "cpus", type: .cpumap, keySize: 4, valueSize: 4, maxEntries: 2),
      MapDefinition(name: "sockets", type: .xskmap, keySize: 4, valueSize: 4, maxEntries: 4),
      MapDefinition(name: "hosts", type: .devmapHash, keySize: 4, valueSize: 4, maxEntries: 4),
      MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 8, maxEntries: 1),
      MapDefinition(
        name: "sink", type: .array, keySize: 4, valueSize: 8, maxEntries: 1,
        flags: MapDefinition.writeOnlyForPrograms),
    ]
  }
  public static var ports: Int { 0 }
  public static var rodata: Int { 1 }
  public static var cpus: Int { 2 }
  public static var sockets: Int { 3 }
  public static var hosts: Int { 4 }
  public static var values: Int { 5 }
  public static var sink: Int { 6 }
}
