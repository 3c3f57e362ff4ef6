// Which libbpf section names are XDP program sections.

extension Program {
  /// Whether `name` is one of libbpf's XDP section names: `xdp`, `xdp/...`,
  /// `xdp.frags`, `xdp.frags/...`.
  public static func isXDPSection(_ name: String) -> Bool {
    name == "xdp" || name.hasPrefix("xdp/") || name == "xdp.frags" || name.hasPrefix("xdp.frags/")
  }

  /// Whether the program comes from an XDP section.
  public var isXDP: Bool { Self.isXDPSection(sectionName) }

  /// Whether `name` is the section of a batch XDP program written as one
  /// (`xdp.batch`, `xdp.batch/...`): it walks its records itself and is
  /// loaded as written, with `BPF_F_XDP_BATCH`, by a kernel with the batch
  /// patches. Such a program is not a per-packet XDP program.
  public static func isBatchSection(_ name: String) -> Bool {
    name == "xdp.batch" || name.hasPrefix("xdp.batch/")
  }
}
