/// One XDP program of an object file, linked and ready to load: its own
/// instructions followed by every subprogram it calls, with call offsets
/// fixed, the way libbpf links a program.
///
/// Map references are encoded in the instructions themselves: each
/// `ld_imm64` that names a map has source ``ImmediateLoadKind/mapByIndex``
/// (or ``ImmediateLoadKind/mapValueByIndex``, with the value offset in the
/// second slot) and the map's index in ``BPFObject/maps`` as immediate. A
/// loader substitutes its map handles; nothing else needs patching.
public struct Program: Hashable, Sendable {
  /// The function name (`xdp_prog1`).
  public var name: String
  /// The ELF section it came from (`xdp`, `xdp/...`, `xdp.frags`).
  public var sectionName: String
  /// The linked instructions.
  public var instructions: [Instruction]
  /// How many leading instructions are the program's own; the rest are
  /// appended subprograms.
  public var mainLength: Int
  /// Subprograms appended after the main body, by name and start index.
  public var subprograms: [Subprogram]

  /// Describes a linked program.
  public init(
    name: String, sectionName: String, instructions: [Instruction], mainLength: Int? = nil,
    subprograms: [Subprogram] = []
  ) {
    self.name = name
    self.sectionName = sectionName
    self.instructions = instructions
    self.mainLength = mainLength ?? instructions.count
    self.subprograms = subprograms
  }

  /// A bpf-to-bpf function appended to a linked program.
  public struct Subprogram: Hashable, Sendable {
    /// The function name.
    public var name: String
    /// Index of its first instruction in ``Program/instructions``.
    public var start: Int
    /// Number of instruction slots.
    public var length: Int

    /// Describes a subprogram's place in the linked program.
    public init(name: String, start: Int, length: Int) {
      self.name = name
      self.start = start
      self.length = length
    }
  }

  /// The map each `ld_imm64` refers to, by instruction index: the map's
  /// index in the object's map table and, for a value address, the offset.
  public var mapReferences: [(instruction: Int, map: Int, valueOffset: Int32?)] {
    var references: [(instruction: Int, map: Int, valueOffset: Int32?)] = []
    var index = 0
    while index < instructions.count {
      let slot = instructions[index]
      if slot.isWideImmediateLoad, index + 1 < instructions.count {
        switch slot.immediateLoadKind {
        case .mapByIndex:
          references.append((index, Int(slot.immediate), nil))
        case .mapValueByIndex:
          references.append((index, Int(slot.immediate), instructions[index + 1].immediate))
        default: break
        }
        index += 2
      } else {
        index += 1
      }
    }
    return references
  }
}
