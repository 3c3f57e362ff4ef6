import BPF
import CBPF

extension KernelMap {
  /// The map's full name: the kernel keeps 15 characters, and a map
  /// created with its object's BTF (as xdpbatch and libbpf create them)
  /// has the whole name in that BTF's `.maps` section, as the variable
  /// whose key and value types are the map's. The kernel's name when the
  /// map has no BTF or its name is shorter.
  public var fullName: String {
    let name = info.name
    guard name.count == Int(BPF_OBJ_NAME_LEN) - 1, info.btfID != 0, info.keyTypeID != 0,
      let btf = KernelBTFObject.read(id: info.btfID)
    else { return name }
    let matches = KernelBTF.mapTypes(in: btf).filter { declared, types in
      declared.hasPrefix(name) && types.key == info.keyTypeID && types.value == info.valueTypeID
    }
    return matches.count == 1 ? matches.first?.key ?? name : name
  }
}
