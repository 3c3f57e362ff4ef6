import BPF
import Datapath
import Engine
import Kernel

extension DatapathConfiguration {
  /// The software datapath of `interface` for `source`'s program: its
  /// fallback is the program with its counting pass, taking over the maps
  /// of the program deployed on the interface now
  /// (``ProgramSpec/continuingMaps(of:)``), so that a move between the
  /// datapaths, or a restart, keeps a filled DEVMAP and what was counted.
  public init(
    interface: String, source: ProgramSource, form: Form = .perPacket,
    strategy: BatchStrategy = .reserve, bound: BatchBound = .endPointer,
    attachMode: AttachMode = .native, state: StateDirectory = StateDirectory(),
    engine: EngineKind = .platformDefault, groupActions: Bool = false
  ) throws(ProgramSourceError) {
    self.init(
      interface: interface, objectPath: source.objectPath, programName: source.programName,
      fallback: try source.instrumentedSpec().continuingMaps(of: interface), form: form,
      strategy: strategy, bound: bound, attachMode: attachMode, state: state, engine: engine,
      groupActions: groupActions)
  }
}
