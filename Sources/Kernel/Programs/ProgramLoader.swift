import BPF

/// Loads a linked ``BPF/Program`` into the kernel: creates the maps it
/// references, patches each `ld_imm64` from a map index to the map's
/// descriptor, and runs `BPF_PROG_LOAD`.
///
/// Maps that already exist are passed in `reusing`, by index in the
/// object's map table: that is how an interface's pinned action-counters
/// map is shared by every program attached there. The action-counting pass
/// appends the counters map to the object's table and references it by
/// that index; the loader does not care which pass produced the program.
public struct ProgramLoader: Sendable {
  /// The object's map table, as the program's `ld_imm64` indices count it.
  public var maps: [MapDefinition]
  /// Maps that must not be created but taken as they are, by index.
  public var reusing: [Int: KernelMap]
  /// The program's license string (helpers such as `bpf_trace_printk`
  /// need a GPL-compatible one).
  public var license: String
  /// The object's BTF and the program's function records, when the object
  /// has BTF: loaded with the program (full name, `btf_id`).
  public var btf: KernelBTF?
  /// `BPF_PROG_LOAD`'s `prog_flags` (`BPF_F_XDP_BATCH` for a batch program).
  public var flags: UInt32
  /// What kind of program (XDP unless said otherwise).
  public var type: ProgramType

  /// Describes a load of programs that reference `maps`.
  public init(
    maps: [MapDefinition], reusing: [Int: KernelMap] = [:], license: String = "GPL",
    btf: KernelBTF? = nil, flags: UInt32 = 0, type: ProgramType = .xdp
  ) {
    self.maps = maps
    self.reusing = reusing
    self.license = license
    self.btf = btf
    self.flags = flags
    self.type = type
  }

  /// A loaded program with the maps it references, which it keeps alive.
  public struct Loaded: Sendable {
    /// The program.
    public var program: LoadedProgram
    /// Every map of the table the program references, by index.
    public var maps: [Int: KernelMap]
  }

  /// Creates the referenced maps (those not in ``reusing``; ARRAY maps
  /// memory-mappable: ``BPF/MapDefinition/withMappableValues``; with the
  /// object's BTF key and value types where it declares them), patches
  /// the program and loads it. Maps the program never references are not
  /// created. Nothing stays in the kernel if any step fails.
  public func load(_ program: Program) throws(LoadError) -> Loaded {
    let references = program.mapReferences
    var handles: [Int: KernelMap] = [:]
    // The object's BTF, loaded once for the maps' key and value types.
    let typing = btf.flatMap { $0.mapTypes.isEmpty ? nil : LoadedProgram.DebugInfo($0) }
    func types(of map: MapDefinition) -> (btf: KernelDescriptor, key: UInt32, value: UInt32)? {
      guard let typing, let ids = btf?.mapTypes[map.name] else { return nil }
      return (typing.descriptor, ids.key, ids.value)
    }
    for reference in references where handles[reference.map] == nil {
      guard maps.indices.contains(reference.map) || reusing[reference.map] != nil else {
        throw .unknownMap(
          program: program.name, instruction: reference.instruction, mapIndex: reference.map,
          mapCount: maps.count)
      }
      if let existing = reusing[reference.map] {
        handles[reference.map] = existing
      } else {
        do {
          let definition = maps[reference.map]
          handles[reference.map] = try KernelMap.create(
            definition.withMappableValues, types: types(of: definition))
        } catch {
          throw .map(program: program.name, error)
        }
      }
    }
    let patched = Self.patch(program.instructions, references: references, maps: handles)
    let loaded = try LoadedProgram.load(
      name: program.name, instructions: patched, license: license, btf: btf, flags: flags,
      type: type)
    return Loaded(program: loaded, maps: handles)
  }

  /// The instructions with each map-by-index `ld_imm64` turned into
  /// `BPF_PSEUDO_MAP_FD` (or `BPF_PSEUDO_MAP_VALUE`, keeping the value
  /// offset in the second slot) carrying the map's descriptor.
  static func patch(
    _ instructions: [Instruction],
    references: [(instruction: Int, map: Int, valueOffset: Int32?)],
    maps: [Int: KernelMap]
  ) -> [Instruction] {
    var patched = instructions
    for reference in references {
      guard let map = maps[reference.map] else { continue }
      let kind: ImmediateLoadKind = reference.valueOffset == nil ? .mapByFD : .mapValueByFD
      patched[reference.instruction].src = Register(rawValue: kind.rawValue)
      patched[reference.instruction].immediate = map.descriptor.rawValue
    }
    return patched
  }
}
