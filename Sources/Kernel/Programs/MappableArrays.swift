import BPF

extension MapDefinition {
  /// `BPF_F_MMAPABLE`: the map's values can be mapped into a process.
  public static let memoryMappable: UInt32 = 1 << 10

  /// This definition as xdpbatch creates it for a program: an ARRAY map
  /// memory-mappable, so that the software datapath's engines map the
  /// kernel's values into their address space and the program reads and
  /// writes the very bytes the kernel program does (docs/DESIGN.md, "Maps
  /// on the software datapath"). The kernel allows the flag on ARRAY maps
  /// only; it changes nothing for the program: the verifier's work, the
  /// translated and the JIT code are the same (`MappableArrayTests`).
  public var withMappableValues: MapDefinition {
    guard type == .array else { return self }
    var definition = self
    definition.flags |= Self.memoryMappable
    return definition
  }
}

extension MapInfo {
  /// Whether the map's values can be mapped (`BPF_F_MMAPABLE`).
  public var isMemoryMappable: Bool { flags & MapDefinition.memoryMappable != 0 }
}
