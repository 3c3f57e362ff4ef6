import BPF
import CBPF

/// A BTF object the kernel holds (a map's or a program's types), by id.
public enum KernelBTFObject {
  /// The BTF object `id` (`btf__load_from_kernel_by_id`), parsed by the
  /// project's reader; nil when the kernel will not give it.
  public static func read(id: UInt32) -> BTF? {
    guard let handle = btf__load_from_kernel_by_id(id) else { return nil }
    defer { btf__free(handle) }
    var size: UInt32 = 0
    guard let raw = btf__raw_data(handle, &size) else { return nil }
    let bytes = Array(UnsafeRawBufferPointer(start: raw, count: Int(size)))
    return try? BTF(bytes: bytes, name: "BTF object \(id)")
  }

  /// The name of type `typeID` in the BTF object `btfID`; nil when either
  /// cannot be read or the type has no name.
  static func typeName(btfID: UInt32, typeID: UInt32) -> String? {
    guard let btf = btf__load_from_kernel_by_id(btfID) else { return nil }
    defer { btf__free(btf) }
    guard let type = btf__type_by_id(btf, typeID),
      let name = btf__name_by_offset(btf, type.pointee.name_off)
    else { return nil }
    let text = String(cString: name)
    return text.isEmpty ? nil : text
  }
}
