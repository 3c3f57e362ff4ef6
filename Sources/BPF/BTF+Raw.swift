extension BTF {
  /// Parses a raw BTF blob: the bytes of a `.BTF` section on their own,
  /// as the kernel exposes its own types at `/sys/kernel/btf/vmlinux`
  /// (not an ELF file). `name` is used in messages.
  public init(bytes: [UInt8], name: String) throws(BPFObjectError) {
    try self.init(ByteView(bytes: bytes, file: name), section: "BTF")
  }

  /// Reads and parses the raw BTF blob at `path`.
  public init(contentsOf path: String) throws(BPFObjectError) {
    try self.init(bytes: ByteView.contents(ofFile: path), name: path)
  }

  /// The ids and types named `name` of kind `kind`, in id order.
  public func types(named name: String, kind: BTFKind) -> [(id: UInt32, type: BTFType)] {
    types.enumerated().compactMap { index, type in
      type.kind == kind && type.name == name ? (UInt32(index + 1), type) : nil
    }
  }
}
