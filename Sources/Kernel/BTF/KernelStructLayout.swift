import CBPF

/// Where the running kernel keeps a member of one of its structures, from
/// its own BTF (`/sys/kernel/btf/vmlinux`): what a tracing program that
/// reads kernel memory needs, since layouts change between builds.
public enum KernelStructLayout {
  /// The byte offset of `member` in `struct structure`; nil when the
  /// kernel has no BTF, no such structure or member, or the member is a
  /// bitfield.
  public static func offset(of member: String, in structure: String) -> Int? {
    guard let btf = btf__load_vmlinux_btf() else { return nil }
    defer { btf__free(btf) }
    let id = btf__find_by_name_kind(btf, structure, UInt32(BTF_KIND_STRUCT))
    guard id > 0, let type = btf__type_by_id(btf, UInt32(id)) else { return nil }
    let members = btf_members(type)
    for index in 0..<Int(btf_vlen(type)) {
      guard let name = btf__name_by_offset(btf, members![index].name_off),
        String(cString: name) == member
      else { continue }
      guard btf_member_bitfield_size(type, UInt32(index)) == 0 else { return nil }
      let bits = btf_member_bit_offset(type, UInt32(index))
      return bits % 8 == 0 ? Int(bits / 8) : nil
    }
    return nil
  }
}
