/// The programs of a PROG_ARRAY, and the table of code addresses the
/// JIT's native tail calls read (``JITCompiler/emitTailCall(at:)``).
///
/// The table has one word per slot: ``empty``, ``notCompiled`` (the call
/// goes through the engine's Swift code, which compiles the program and
/// writes its address here), or the address of the program's compiled
/// body. Every write to a slot rewrites its word, so an update from
/// outside is seen by the next tail call. A program taken out of a slot
/// while a run may be executing its code (a program deleting its own
/// slot) is kept until the run ends (``releaseRetired()``).
final class ProgramSlots {
  /// A slot with no program.
  static let empty: UInt64 = 0
  /// A slot whose program has no machine code yet.
  static let notCompiled: UInt64 = 1
  /// The most slots the table covers; a larger PROG_ARRAY keeps its
  /// programs here but its tail calls go through Swift.
  static let tableLimit = 4096

  private var programs: [Int: PreparedProgram] = [:]
  private var retired: [PreparedProgram] = []
  /// The code words, ``tableCount`` of them (nil past ``tableLimit``).
  let table: UnsafeMutablePointer<UInt64>?
  let tableCount: Int

  init(entries: Int) {
    if entries <= Self.tableLimit {
      tableCount = entries
      let words = UnsafeMutablePointer<UInt64>.allocate(capacity: max(entries, 1))
      words.initialize(repeating: Self.empty, count: max(entries, 1))
      table = words
    } else {
      tableCount = 0
      table = nil
    }
  }

  deinit { table?.deallocate() }

  subscript(index: Int) -> PreparedProgram? {
    get { programs[index] }
    set {
      if let old = programs[index], old !== newValue { retired.append(old) }
      programs[index] = newValue
      publish(index)
    }
  }

  /// The indices that hold a program.
  var keys: Dictionary<Int, PreparedProgram>.Keys { programs.keys }

  /// Rewrites the code word of every slot holding `program` (after it
  /// was compiled).
  func published(_ program: PreparedProgram) {
    for (index, held) in programs where held === program { publish(index) }
  }

  private func publish(_ index: Int) {
    guard let table, index < tableCount else { return }
    guard let program = programs[index] else {
      table[index] = Self.empty
      return
    }
    if let code = program.compiled {
      table[index] = UInt64(UInt(bitPattern: code.body))
    } else {
      table[index] = Self.notCompiled
    }
  }

  /// Drops the programs taken out of slots during the run that ended.
  func releaseRetired() {
    if !retired.isEmpty { retired.removeAll() }
  }
}
