/// An object's BTF prepared for `BPF_BTF_LOAD`, with the function records
/// (`bpf_func_info`) of one linked program: what the loader passes as
/// `prog_btf_fd` and `func_info`, as libbpf does, so that the kernel and
/// `bpftool` know the program's full name and give it a `btf_id`.
///
/// clang leaves `DATASEC` sizes and variable offsets at 0 for libbpf to fill
/// in from the ELF sections; the kernel refuses a `DATASEC` of size 0.
/// Nothing reads these layouts (maps take their key and value types, not
/// the section's): each section's variables are laid out one after
/// another (in their order, by their types' sizes), which the kernel
/// accepts. Type ids are the object's, so ``mapTypes`` name the key and
/// value types in this BTF, as libbpf passes them to `BPF_MAP_CREATE`.
public struct KernelBTF: Sendable {
  /// The raw BTF to load.
  public var bytes: [UInt8]
  /// One record per function start: the instruction index and the id of
  /// the `FUNC` type naming it; the main program first, at 0.
  public var functions: [(instruction: Int, typeID: UInt32)]
  /// The key and value type ids of each map declared with `__type(key, …)`
  /// and `__type(value, …)` in `.maps`, by map name (libbpf's
  /// `btf_key_type_id` and `btf_value_type_id`).
  public var mapTypes: [String: (key: UInt32, value: UInt32)] = [:]

  /// The BTF and function records for `program`, or nil when the object
  /// has no BTF, or some function of the program has no `FUNC` type of its
  /// name (the kernel needs one for every subprogram start).
  public init?(btf: BTF, program: Program) {
    var types = btf.types
    for (index, type) in types.enumerated() where type.kind == .dataSection {
      var offset: UInt32 = 0
      var variables = type.sectionVariables
      for position in variables.indices {
        let variable = variables[position]
        let size = (try? btf.size(of: variable.type)) ?? UInt64(variable.size)
        variables[position].offset = offset
        variables[position].size = UInt32(clamping: size)
        offset += UInt32(clamping: size)
      }
      types[index].detail = .sectionVariables(variables)
      types[index].sizeOrType = max(offset, 1)
    }
    func functionType(_ name: String) -> UInt32? {
      types.firstIndex { $0.kind == .function && $0.name == name }.map { UInt32($0 + 1) }
    }
    var functions: [(instruction: Int, typeID: UInt32)] = []
    guard let main = functionType(program.name) else { return nil }
    functions.append((0, main))
    for subprogram in program.subprograms.sorted(by: { $0.start < $1.start }) {
      guard let id = functionType(subprogram.name) else { return nil }
      functions.append((subprogram.start, id))
    }
    bytes = BTFEncoder(types: types).bytes()
    self.functions = functions
    mapTypes = Self.mapTypes(in: btf)
  }

  /// The `key` and `value` members' pointee types of each `.maps` variable
  /// that has both.
  public static func mapTypes(in btf: BTF) -> [String: (key: UInt32, value: UInt32)] {
    var found: [String: (key: UInt32, value: UInt32)] = [:]
    guard let section = btf.types.first(where: { $0.kind == .dataSection && $0.name == ".maps" })
    else { return found }
    for variable in section.sectionVariables {
      guard let declared = try? btf.type(variable.type), declared.kind == .variable,
        let definition = try? btf.skippingModifiers(declared.sizeOrType).type,
        definition.kind == .structure
      else { continue }
      func pointee(_ name: String) -> UInt32? {
        guard let member = definition.members.first(where: { $0.name == name }),
          let pointer = try? btf.skippingModifiers(member.type).type, pointer.kind == .pointer
        else { return nil }
        return pointer.sizeOrType
      }
      if let key = pointee("key"), let value = pointee("value") {
        found[declared.name] = (key, value)
      }
    }
    return found
  }

  /// The full name of the function with BTF type `id` in `btf`: what
  /// `bpftool prog show` prints instead of the kernel's 15 characters.
  public static func functionName(_ id: UInt32, in btf: BTF) -> String? {
    guard let type = try? btf.type(id), type.kind == .function else { return nil }
    return type.name
  }
}
