import BPF

/// What to load (cilium/ebpf's `ProgramSpec`, apart from the live
/// ``LoadedProgram``): a linked program, its object's map table, its
/// license and BTF, and which live maps it takes over instead of new
/// ones. For a program instrumented by the action-counting pass,
/// ``countersMapIndex`` is where the interface's ``ActionCounters`` go.
public struct ProgramSpec: Sendable {
  /// The program, already rewritten or instrumented as wanted.
  public var program: Program
  /// The object's map table (including the counters map's definition
  /// at ``countersMapIndex`` when the program references it).
  public var maps: [MapDefinition]
  /// The index of the counters map in ``maps``: the interface's counters
  /// are used there instead of a new map.
  public var countersMapIndex: Int?
  /// The object's license string.
  public var license: String
  /// The object's BTF with the program's function records, if it has BTF.
  public var btf: KernelBTF?
  /// Live maps the program takes over instead of new ones, by index in
  /// ``maps`` (see ``adoptingMaps(of:)``).
  public var reusing: [Int: KernelMap] = [:]
  /// `BPF_PROG_LOAD`'s `prog_flags`: ``BPF/KernelBatchInterface/loadFlag``
  /// for a batch program, 0 for a per-packet one.
  public var loadFlags: UInt32 = 0

  /// Describes what to load.
  public init(
    program: Program, maps: [MapDefinition], countersMapIndex: Int? = nil,
    license: String = "GPL", btf: KernelBTF? = nil
  ) {
    self.program = program
    self.maps = maps
    self.countersMapIndex = countersMapIndex
    self.license = license
    self.btf = btf
  }

  /// Loads the program, giving it `counters` at ``countersMapIndex`` and
  /// the ``reusing`` maps at theirs; the other maps it references are
  /// created. Nothing stays in the kernel if a step fails.
  public func load(counters: ActionCounters? = nil) throws(LoadError) -> ProgramLoader.Loaded {
    var reusing = reusing
    if let countersMapIndex, let counters { reusing[countersMapIndex] = counters.map }
    return try ProgramLoader(
      maps: maps, reusing: reusing, license: license, btf: btf, flags: loadFlags
    ).load(program)
  }

  /// This spec taking over those of `running` (another program's maps)
  /// that it declares alike: name (as the kernel keeps it), type, key and
  /// value size, entries. The counters map is not among them (it is the
  /// interface's). So the program carries on with the entries a user put
  /// in (a filled DEVMAP) and what the other program counted.
  public func adoptingMaps(of running: [KernelMap]) -> ProgramSpec {
    var spec = self
    for (index, definition) in maps.enumerated() where index != countersMapIndex {
      if let match = running.first(where: { $0.info.isDeclared(by: definition) }) {
        spec.reusing[index] = match
      }
    }
    return spec
  }
}
