// Which libbpf section names are XDP program sections.

extension Program {
  /// Whether `name` is one of libbpf's XDP section names: `xdp`, `xdp/...`,
  /// `xdp.frags`, `xdp.frags/...`.
  public static func isXDPSection(_ name: String) -> Bool {
    name == "xdp" || name.hasPrefix("xdp/") || name == "xdp.frags" || name.hasPrefix("xdp.frags/")
  }

  /// Whether the program comes from an XDP section.
  public var isXDP: Bool { Self.isXDPSection(sectionName) }
}
