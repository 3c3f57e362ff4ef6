import BPF
import Kernel

/// The kernel's side of an exchange (``MapExchange``): a small XDP
/// program, built with the instruction constructors for one map of the
/// user's program, that adds an engine's changes into the kernel's map
/// where the kernel program's own increments cannot interleave.
///
/// `BPF_PROG_TEST_RUN` runs it on the calling thread's CPU with migration
/// and bottom halves off, so no XDP program runs on that CPU meanwhile.
/// A lookup of a per-CPU map gives that CPU's slot, which only programs
/// on that CPU write: the fold's read-modify-write is then whole, as the
/// kernel program's own `*value += 1` is. Values of shared maps take
/// atomic adds (`lock xadd`), as the kernel program's
/// `__sync_fetch_and_add` does. An entry the engine added is created
/// (`BPF_NOEXIST`), or added to when the kernel has it by then; one it
/// deleted is deleted.
///
/// The frame it runs on: a header of 16 bytes (u32 record count; u32 the
/// CPU it ran on, written by the program), then records of 8 + key + value
/// bytes, each rounded up to 8: u32 operation (1 add, 2 delete), s32
/// result (written by the program: 0 or a negative errno), the key, the
/// delta (the value of an added entry).
struct DeltaFold: Sendable {
  /// What a record asks.
  enum Operation: UInt32, Sendable {
    /// Add the delta (create the entry with it when absent).
    case add = 1
    /// Delete the entry.
    case delete = 2
  }

  /// One change of one entry.
  struct Record: Sendable {
    var operation: Operation
    var key: [UInt8]
    /// For ``Operation/add``: the delta, lane by lane (``ValueLanes``).
    var delta: [UInt8]
  }

  /// What one ``run(_:)`` did.
  struct Outcome: Sendable {
    /// The CPU the program ran on (whose slot a per-CPU map changed).
    var processor: Int
    /// The records the kernel refused, with its errno.
    var refused: [(record: Record, errno: Errno)]
  }

  /// The most frame bytes a run carries (a test run takes at most a page
  /// less its headroom and `skb_shared_info`: 3,520 bytes).
  static let frameCapacity = 3072
  static let headerSize = 16
  /// The most records one program handles (its code is unrolled).
  static let recordLimit = 32
  /// `BPF_NOEXIST`.
  static let createOnly: Int32 = 1

  let program: LoadedProgram
  let keySize: Int
  let lanes: ValueLanes
  let recordSize: Int
  let recordsPerRun: Int

  /// Whether records of `info`'s map fit a run's frame.
  static func fits(_ info: MapInfo) -> Bool {
    headerSize + recordSize(info) <= frameCapacity
  }

  private static func recordSize(_ info: MapInfo) -> Int {
    8 + round8(Int(info.keySize)) + round8(Int(info.valueSize))
  }

  private static func round8(_ bytes: Int) -> Int { (bytes + 7) & ~7 }

  /// Loads the fold of `map` (which ``fits(_:)``).
  init(_ map: KernelMap) throws(LoadError) {
    keySize = Int(map.info.keySize)
    lanes = ValueLanes(valueSize: Int(map.info.valueSize))
    recordSize = Self.recordSize(map.info)
    recordsPerRun = max(
      1, min(Self.recordLimit, (Self.frameCapacity - Self.headerSize) / recordSize))
    let instructions = Self.code(
      records: recordsPerRun, recordSize: recordSize, keyStride: Self.round8(keySize),
      lanes: lanes, createsAndDeletes: !Self.isArray(map.info.type),
      createsFirst: map.info.type == .lpmTrie)
    program = try ProgramLoader(maps: [map.info.definition], reusing: [0: map])
      .load(Program(name: "xdpbatch_fold", sectionName: "xdp", instructions: instructions))
      .program
  }

  private static func isArray(_ type: MapType) -> Bool {
    type == .array || type == .perCPUArray
  }

  /// Folds `records` into the kernel's map, as many runs as they take.
  func run(_ records: [Record]) throws(SystemCallError) -> Outcome {
    var outcome = Outcome(processor: 0, refused: [])
    var start = 0
    repeat {
      let part = Array(records[start..<min(records.count, start + recordsPerRun)])
      var frame = [UInt8](repeating: 0, count: Self.headerSize + part.count * recordSize)
      store(UInt32(part.count), in: &frame, at: 0)
      for (index, record) in part.enumerated() {
        let offset = Self.headerSize + index * recordSize
        store(record.operation.rawValue, in: &frame, at: offset)
        frame.replaceSubrange(offset + 8..<offset + 8 + keySize, with: record.key.prefix(keySize))
        let value = offset + 8 + Self.round8(keySize)
        frame.replaceSubrange(
          value..<value + min(record.delta.count, lanes.valueSize),
          with: record.delta.prefix(lanes.valueSize))
      }
      let result = try TestRun(frame: frame).run(program).frame
      guard result.count >= frame.count else {
        throw SystemCallError(
          "fold into map \"\(program.name)\": the program returned \(result.count) bytes",
          errno: .ioError)
      }
      outcome.processor = Int(load(result, at: 4))
      for (index, record) in part.enumerated() {
        let code = Int32(bitPattern: load(result, at: Self.headerSize + index * recordSize + 4))
        if code < 0 { outcome.refused.append((record, Errno(-code))) }
      }
      start += part.count
    } while start < records.count
    return outcome
  }

  private func store(_ value: UInt32, in frame: inout [UInt8], at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { frame.replaceSubrange(offset..<offset + 4, with: $0) }
  }

  private func load(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
  }
}

extension DeltaFold {
  /// The program: per record (unrolled), check the frame holds it, then
  /// add, create or delete; write each result and the CPU into the frame.
  ///
  /// With `createsFirst` (an LPM trie, whose lookup finds the longest
  /// prefix that matches, not the entry the key names), an add tries the
  /// create first: `EEXIST` says the entry the key names exists, and a
  /// lookup with the key's own prefix length then finds that entry,
  /// since no longer prefix can match it.
  ///
  ///     r6 = ctx->data; r7 = ctx->data_end; r8 = count; header.cpu = smp_processor_id()
  ///     record i: if r8 <= i goto out; if r6 + end(i) > r7 goto out; r9 = r6 + start(i)
  ///       if op == delete: result = delete(map, key)
  ///       else: r0 = lookup(map, key); if r0: add lanes; result = 0
  ///             else: result = update(map, key, delta, NOEXIST)
  ///                   if result == -EEXIST: r0 = lookup(map, key); if r0: add lanes; result = 0
  ///     out: return XDP_PASS
  static func code(
    records: Int, recordSize: Int, keyStride: Int, lanes: ValueLanes, createsAndDeletes: Bool,
    createsFirst: Bool = false
  ) -> [Instruction] {
    var code = Assembly()
    code.emit(.load(.word, .r6, from: .r1, offset: 0))
    code.emit(.load(.word, .r7, from: .r1, offset: 4))
    code.emit(.move(.r2, .r6))
    code.emit(.add(.r2, immediate: Int32(headerSize)))
    code.jump(.jgt, .r2, .r7, to: "out")
    code.emit(.call(helper: HelperFunction.getSMPProcessorID.rawValue))
    code.emit(.store(.word, .r0, to: .r6, offset: 4))
    code.emit(.load(.word, .r8, from: .r6, offset: 0))
    let keyOffset: Int16 = 8
    let deltaOffset = Int16(8 + keyStride)
    for index in 0..<records {
      let start = Int32(headerSize + index * recordSize)
      let next = "next\(index)"
      code.jump(.jle, .r8, immediate: Int32(index), to: "out")
      code.emit(.move(.r2, .r6))
      code.emit(.add(.r2, immediate: start + Int32(recordSize)))
      code.jump(.jgt, .r2, .r7, to: "out")
      code.emit(.move(.r9, .r6))
      code.emit(.add(.r9, immediate: start))
      if createsAndDeletes {
        code.emit(.load(.word, .r3, from: .r9, offset: 0))
        code.jump(.jeq, .r3, immediate: Int32(Operation.delete.rawValue), to: "delete\(index)")
      }
      if !(createsAndDeletes && createsFirst) {
        lookup(&code, keyOffset)
        code.jump(
          .jeq, .r0, immediate: 0, to: createsAndDeletes ? "create\(index)" : "missing\(index)")
        add(&code, lanes, deltaOffset)
        code.emit(.store(.word, immediate: 0, to: .r9, offset: 4))
        code.jump(to: next)
      }
      if createsAndDeletes {
        code.label("create\(index)")
        code.emit(mapReference)
        code.emit(.move(.r2, .r9))
        code.emit(.add(.r2, immediate: Int32(keyOffset)))
        code.emit(.move(.r3, .r9))
        code.emit(.add(.r3, immediate: Int32(deltaOffset)))
        code.emit(.move(.r4, immediate: createOnly))
        code.emit(.call(helper: HelperFunction.mapUpdateElement.rawValue))
        code.emit(.store(.word, .r0, to: .r9, offset: 4))
        code.jump(.jne, .r0, immediate: -Errno.exists.rawValue, to: next)
        // Created meanwhile by the kernel program: add to it after all.
        lookup(&code, keyOffset)
        code.jump(.jeq, .r0, immediate: 0, to: next)
        add(&code, lanes, deltaOffset)
        code.emit(.store(.word, immediate: 0, to: .r9, offset: 4))
        code.jump(to: next)
        code.label("delete\(index)")
        code.emit(mapReference)
        code.emit(.move(.r2, .r9))
        code.emit(.add(.r2, immediate: Int32(keyOffset)))
        code.emit(.call(helper: HelperFunction.mapDeleteElement.rawValue))
        code.emit(.store(.word, .r0, to: .r9, offset: 4))
      } else {
        code.label("missing\(index)")
        code.emit(.store(.word, immediate: -Errno.tooBig.rawValue, to: .r9, offset: 4))
      }
      code.label(next)
    }
    code.label("out")
    code.emit(.move(.r0, immediate: Int32(XDPAction.pass.rawValue)))
    code.emit(.exit)
    return code.resolved()
  }

  /// `r0 = map_lookup_elem(map, r9 + keyOffset)`.
  private static func lookup(_ code: inout Assembly, _ keyOffset: Int16) {
    code.emit(mapReference)
    code.emit(.move(.r2, .r9))
    code.emit(.add(.r2, immediate: Int32(keyOffset)))
    code.emit(.call(helper: HelperFunction.mapLookupElement.rawValue))
  }

  /// Adds each lane of the delta at `r9 + deltaOffset` into the value at
  /// `r0`: atomically for 8- and 4-byte lanes, else by a plain
  /// read-modify-write (whole on this CPU, with bottom halves off).
  private static func add(_ code: inout Assembly, _ lanes: ValueLanes, _ deltaOffset: Int16) {
    for lane in lanes.lanes {
      let offset = Int16(lane.offset)
      code.emit(.load(lane.size, .r3, from: .r9, offset: deltaOffset + offset))
      switch lane.size {
      case .doubleWord, .word:
        code.emit(
          Instruction(
            opcode: Opcode.memory(.stx, .atomic, lane.size), dst: .r0, src: .r3, offset: offset,
            immediate: AtomicOperation.add.rawValue))
      case .halfWord, .byte:
        code.emit(.load(lane.size, .r4, from: .r0, offset: offset))
        code.emit(.arithmetic(.add, .r4, .r3))
        code.emit(.store(lane.size, .r4, to: .r0, offset: offset))
      }
    }
  }
}

/// `r1 = map 0` (`ld_imm64` of the fold's only map).
private let mapReference = Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)

/// Instructions with jumps to named labels, resolved at the end.
private struct Assembly {
  private var instructions: [Instruction] = []
  private var labels: [String: Int] = [:]
  private var jumps: [(index: Int, label: String)] = []

  mutating func emit(_ instruction: Instruction) { instructions.append(instruction) }
  mutating func emit(_ sequence: [Instruction]) { instructions += sequence }
  mutating func label(_ name: String) { labels[name] = instructions.count }

  mutating func jump(to label: String) {
    jumps.append((instructions.count, label))
    instructions.append(.jump(offset: 0))
  }

  mutating func jump(_ operation: JumpOperation, _ dst: Register, _ src: Register, to label: String)
  {
    jumps.append((instructions.count, label))
    instructions.append(.jump(operation, dst, src, offset: 0))
  }

  mutating func jump(
    _ operation: JumpOperation, _ dst: Register, immediate: Int32, to label: String
  ) {
    jumps.append((instructions.count, label))
    instructions.append(.jump(operation, dst, immediate: immediate, offset: 0))
  }

  func resolved() -> [Instruction] {
    var result = instructions
    for jump in jumps {
      result[jump.index].offset = Int16(labels[jump.label]! - jump.index - 1)
    }
    return result
  }
}
