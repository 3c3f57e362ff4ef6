import BPF
import Glibc
import Kernel

/// Hand-built programs of the shape the action-counting pass produces.
public enum TestPrograms {
  /// Counts every frame under `action` in the counters map at index
  /// `countersIndex` (one packet, frame length bytes), then returns `action`.
  public static func counting(_ action: XDPAction, name: String, countersIndex: Int32 = 0)
    -> Program
  {
    var instructions: [Instruction] = [
      .move(.r6, .r1),
      .load(.word, .r2, from: .r6, offset: 4),  // data_end
      .load(.word, .r3, from: .r6, offset: 0),  // data
      .arithmetic(.sub, .r2, .r3),
      .move(.r7, .r2),
      .store(.word, immediate: Int32(action.rawValue), to: .r10, offset: -4),
      .move(.r2, .r10),
      .add(.r2, immediate: -4),
    ]
    instructions += Instruction.loadImmediate64(.r1, UInt64(countersIndex), kind: .mapByIndex)
    instructions += [
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 6),
      .load(.doubleWord, .r1, from: .r0, offset: 0),
      .add(.r1, immediate: 1),
      .store(.doubleWord, .r1, to: .r0, offset: 0),
      .load(.doubleWord, .r1, from: .r0, offset: 8),
      .arithmetic(.add, .r1, .r7),
      .store(.doubleWord, .r1, to: .r0, offset: 8),
      .move(.r0, immediate: Int32(action.rawValue)),
      .exit,
    ]
    return Program(name: name, sectionName: "xdp", instructions: instructions)
  }

  /// `r0 = action; exit`.
  public static func returning(_ action: XDPAction, name: String) -> Program {
    Program(
      name: name, sectionName: "xdp",
      instructions: [.move(.r0, immediate: Int32(action.rawValue)), .exit])
  }
}

/// Someone else's XDP program (`foreign`, returning PASS), attached the
/// legacy way (netlink, no link): what xdpbatch must refuse to replace
/// without `--force`. ``detach()`` removes it.
public struct ForeignProgram {
  /// The interface's index.
  public let interfaceIndex: UInt32
  /// The mode it is attached in.
  public let mode: AttachMode
  /// Its kernel id.
  public let id: UInt32
  private let loaded: ProgramLoader.Loaded

  /// Loads the program and attaches it to `interface` in `mode`.
  public init(on interface: String, mode: AttachMode) throws {
    interfaceIndex = if_nametoindex(interface)
    self.mode = mode
    loaded = try ProgramLoader(maps: []).load(TestPrograms.returning(.pass, name: "foreign"))
    id = try loaded.program.info().id
    try NetlinkXDP.attach(loaded.program, interfaceIndex: interfaceIndex, mode: mode)
  }

  /// Takes it off the interface.
  public func detach() {
    try? NetlinkXDP.detach(
      programID: id, from: "interface \(interfaceIndex)", interfaceIndex: interfaceIndex,
      mode: mode)
  }
}
