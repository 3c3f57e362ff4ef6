/// The BTF that declares maps the way libbpf 1.x reads a `.maps` section
/// (`bpf_object__init_user_btf_maps`, `parse_btf_map_def`): one global
/// `VAR` per map whose type is an anonymous struct of `__uint` attributes.
///
/// `__uint(name, value)` is a member `name` of type pointer to
/// `int[value]`: the array's element count carries the value. Written
/// attributes: `type`, `max_entries`, `key_size`, `value_size` (sizes
/// rather than key/value types, which libbpf accepts the same and which
/// need no type information from the source), and `map_flags` when set.
/// A `DATASEC` named `.maps` places the variables at ``offsets``.
struct MapBTF {
  /// The encoded types.
  private(set) var encoder = BTFEncoder()
  /// Byte offset of each map's definition in `.maps`.
  private(set) var offsets: [UInt64] = []
  /// Byte size of each map's definition.
  private(set) var sizes: [UInt64] = []
  /// The `.maps` section size (zeros: the values live in BTF).
  private(set) var sectionSize: UInt64 = 0

  /// Builds the types for `maps`, in table order.
  init(maps: [MapDefinition]) {
    let integer = encoder.add(
      BTFType(
        kind: .integer, name: "int", kindFlag: false, vlen: 0, sizeOrType: 4,
        detail: .integer(encoding: 1 << 24 | 32)))
    let arrayIndex = encoder.add(
      BTFType(
        kind: .integer, name: "__ARRAY_SIZE_TYPE__", kindFlag: false, vlen: 0, sizeOrType: 4,
        detail: .integer(encoding: 32)))
    var variables: [BTFType.SectionVariable] = []
    for map in maps {
      var attributes: [(String, UInt32)] = [
        ("type", map.type.rawValue), ("max_entries", map.maxEntries),
      ]
      if map.keySize > 0 { attributes.append(("key_size", map.keySize)) }
      if map.valueSize > 0 { attributes.append(("value_size", map.valueSize)) }
      if map.flags != 0 { attributes.append(("map_flags", map.flags)) }
      var members: [BTFType.Member] = []
      for (index, (name, value)) in attributes.enumerated() {
        let array = encoder.add(
          BTFType(
            kind: .array, name: "", kindFlag: false, vlen: 0, sizeOrType: 0,
            detail: .array(element: integer, index: arrayIndex, count: value)))
        let pointer = encoder.add(
          BTFType(
            kind: .pointer, name: "", kindFlag: false, vlen: 0, sizeOrType: array, detail: .none))
        members.append(.init(name: name, type: pointer, offset: UInt32(index * 64)))
      }
      let size = UInt32(members.count * 8)
      let structure = encoder.add(
        BTFType(
          kind: .structure, name: "", kindFlag: false, vlen: members.count, sizeOrType: size,
          detail: .members(members)))
      let variable = encoder.add(
        BTFType(
          kind: .variable, name: map.name, kindFlag: false, vlen: 0, sizeOrType: structure,
          detail: .variable(linkage: 1)))
      variables.append(.init(type: variable, offset: UInt32(sectionSize), size: size))
      offsets.append(sectionSize)
      sizes.append(UInt64(size))
      sectionSize += UInt64(size)
    }
    encoder.add(
      BTFType(
        kind: .dataSection, name: ".maps", kindFlag: false, vlen: variables.count,
        sizeOrType: UInt32(sectionSize), detail: .sectionVariables(variables)))
  }
}
