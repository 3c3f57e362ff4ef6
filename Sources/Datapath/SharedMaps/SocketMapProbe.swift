import BPF
import Kernel

/// Which keys of a user's XSKMAP hold a socket, asked of the kernel: user
/// space cannot look an XSKMAP up (the kernel answers EOPNOTSUPP), but an
/// XDP program can. The probe is a small program, built with the
/// instruction constructors, that looks up keys 0–63 of the map and
/// stores a bitmap of the present ones in an array of its own; one
/// `BPF_PROG_TEST_RUN` runs it.
///
///     r7 = 0
///     for k in keys: *(u32 *)(r10 - 4) = k; r0 = lookup(xsks, r10 - 4); if r0: r7 |= 1 << k
///     *(u32 *)(r10 - 4) = 0; r0 = lookup(result, r10 - 4); if r0: *(u64 *)r0 = r7
///     return XDP_PASS
struct SocketMapProbe: Sendable {
  /// The most keys probed.
  static let keyLimit: UInt32 = 64
  /// The result array: one 64-bit bitmap.
  static let resultMap = MapDefinition(
    name: "xdpbatch_xskprb", type: .array, keySize: 4, valueSize: 8, maxEntries: 1)

  let program: LoadedProgram
  let result: KernelMap
  let keys: UInt32
  /// The XSKMAP's value size.
  let valueSize: UInt32

  /// Loads a probe of `map` (an XSKMAP).
  init(_ map: KernelMap) throws(LoadError) {
    keys = min(map.info.maxEntries, Self.keyLimit)
    valueSize = map.info.valueSize
    var instructions: [Instruction] = [.move(.r7, immediate: 0)]
    for key in 0..<keys {
      instructions.append(.store(.word, immediate: Int32(key), to: .r10, offset: -4))
      instructions += Instruction.loadImmediate64(.r1, 0, kind: .mapByIndex)
      instructions += [
        .move(.r2, .r10), .add(.r2, immediate: -4),
        .call(helper: HelperFunction.mapLookupElement.rawValue),
        .jump(.jeq, .r0, immediate: 0, offset: 3),
        .move(.r1, immediate: 1), .arithmetic(.lsh, .r1, immediate: Int32(key)),
        .arithmetic(.or, .r7, .r1),
      ]
    }
    instructions.append(.store(.word, immediate: 0, to: .r10, offset: -4))
    instructions += Instruction.loadImmediate64(.r1, 1, kind: .mapByIndex)
    instructions += [
      .move(.r2, .r10), .add(.r2, immediate: -4),
      .call(helper: HelperFunction.mapLookupElement.rawValue),
      .jump(.jeq, .r0, immediate: 0, offset: 1),
      .store(.doubleWord, .r7, to: .r0, offset: 0),
      .move(.r0, immediate: Int32(XDPAction.pass.rawValue)),
      .exit,
    ]
    let loaded = try ProgramLoader(maps: [map.info.definition, Self.resultMap], reusing: [0: map])
      .load(
        Program(name: "xdpbatch_xskprb", sectionName: "xdp", instructions: instructions))
    program = loaded.program
    guard let result = loaded.maps[1] else {
      throw .unknownMap(program: "xdpbatch_xskprb", instruction: 0, mapIndex: 1, mapCount: 2)
    }
    self.result = result
  }

  /// The keys that hold a socket now.
  func present() throws(SystemCallError) -> [UInt32] {
    _ = try TestRun(frame: [UInt8](repeating: 0, count: 64)).run(program)
    guard let bytes = try result.lookup(key: [0, 0, 0, 0])?.first, bytes.count >= 8 else {
      return []
    }
    let bitmap = bytes.prefix(8).enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * UInt64($1.offset))
    }
    return (0..<keys).filter { bitmap & (1 << UInt64($0)) != 0 }
  }
}
