import BPF
import CBPF
import Glibc
import Testing

@testable import Rewriter

/// Loads programs instrumented by ``ActionCountingPass`` into the running
/// kernel and runs them with BPF_PROG_TEST_RUN.
@Suite(
  .serialized, .enabled(if: getuid() == 0, "needs root for BPF_PROG_LOAD and BPF_PROG_TEST_RUN"))
struct KernelActionCountingTests {
  struct KernelError: Error, CustomStringConvertible {
    var description: String
  }

  /// A created map; closed on deinit by the test.
  func createMap(_ definition: MapDefinition) throws -> Int32 {
    let fd = bpf_map_create(
      bpf_map_type(definition.type.rawValue), definition.name, definition.keySize,
      definition.valueSize, definition.maxEntries, nil)
    guard fd >= 0 else { throw KernelError(description: "bpf_map_create: errno \(cbpf_errno())") }
    return fd
  }

  /// Loads `program` as XDP with its map references replaced by `maps`.
  func load(_ program: Program, maps: [Int32]) throws -> Int32 {
    var instructions = program.instructions
    for reference in program.mapReferences {
      instructions[reference.instruction].src = Register(
        rawValue: ImmediateLoadKind.mapByFD.rawValue)
      instructions[reference.instruction].immediate = maps[reference.map]
    }
    let bytes = Instruction.encode(instructions)
    var log = [CChar](repeating: 0, count: 1 << 20)
    let fd = bytes.withUnsafeBytes { raw in
      log.withUnsafeMutableBufferPointer { logBuffer in
        var options = bpf_prog_load_opts()
        options.sz = MemoryLayout<bpf_prog_load_opts>.size
        options.log_buf = logBuffer.baseAddress
        options.log_size = UInt32(logBuffer.count)
        options.log_level = 1
        return bpf_prog_load(
          BPF_PROG_TYPE_XDP, "counting_test", "GPL",
          raw.baseAddress?.assumingMemoryBound(to: bpf_insn.self), instructions.count, &options)
      }
    }
    guard fd >= 0 else {
      let text = String(
        decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self
      )
      .split(separator: "\n").suffix(12).joined(separator: "\n")
      throw KernelError(description: "bpf_prog_load: errno \(cbpf_errno())\n\(text)")
    }
    return fd
  }

  /// Runs the program once on `frame`; returns its verdict.
  func run(_ fd: Int32, frame: [UInt8]) throws -> UInt32 {
    try frame.withUnsafeBytes { raw in
      var options = bpf_test_run_opts()
      options.sz = MemoryLayout<bpf_test_run_opts>.size
      options.data_in = raw.baseAddress
      options.data_size_in = UInt32(frame.count)
      options.repeat = 1
      guard bpf_prog_test_run_opts(fd, &options) == 0 else {
        throw KernelError(description: "bpf_prog_test_run_opts: errno \(cbpf_errno())")
      }
      return options.retval
    }
  }

  /// Sums the per-CPU `{packets, bytes}` records of the counters map.
  func totals(_ fd: Int32) throws -> [(packets: UInt64, bytes: UInt64)] {
    let cpus = Int(libbpf_num_possible_cpus())
    return try XDPAction.allCases.map { action in
      var key = action.rawValue
      var values = [UInt64](repeating: 0, count: cpus * 2)
      guard bpf_map_lookup_elem(fd, &key, &values) == 0 else {
        throw KernelError(description: "bpf_map_lookup_elem: errno \(cbpf_errno())")
      }
      return (
        stride(from: 0, to: values.count, by: 2).reduce(0) { $0 + values[$1] },
        stride(from: 1, to: values.count, by: 2).reduce(0) { $0 + values[$1] }
      )
    }
  }

  /// An Ethernet-sized frame whose byte 13 selects the classifier's verdict.
  func frame(length: Int, selector: UInt8) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xab, count: length)
    if length > 13 { bytes[13] = selector }
    return bytes
  }

  @Test func countedClassifierPassesTheVerifierAndCounts() throws {
    cbpf_silence_libbpf()
    let program = Fixtures.classifier
    let instrumented = try ActionCountingPass(countersMapIndex: 1).apply(to: program)
    let lookups = try createMap(
      MapDefinition(name: "lookups", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
    let counters = try createMap(ActionCountingPass.countersMap)
    defer {
      close(lookups)
      close(counters)
    }
    let original = try load(program, maps: [lookups])
    let counted = try load(instrumented, maps: [lookups, counters])
    defer {
      close(original)
      close(counted)
    }

    // (frame length, selector): verdicts ABORTED (too short), DROP, PASS,
    // TX, REDIRECT, and 7, which counts as ABORTED.
    let cases: [(Int, UInt8)] = [(14, 0), (60, 1), (64, 1), (80, 2), (90, 3), (100, 4), (70, 7)]
    var expected = [(packets: UInt64, bytes: UInt64)](repeating: (0, 0), count: 5)
    for (length, selector) in cases {
      let bytes = frame(length: length, selector: selector)
      let verdict = try run(counted, frame: bytes)
      #expect(verdict == (try run(original, frame: bytes)), "instrumenting changed the verdict")
      let action = XDPAction(returnValue: UInt64(verdict))
      expected[Int(action.rawValue)].packets += 1
      expected[Int(action.rawValue)].bytes += UInt64(length)
    }
    let found = try totals(counters)
    for action in XDPAction.allCases {
      let index = Int(action.rawValue)
      #expect(found[index].packets == expected[index].packets, "\(action.name) packets")
      #expect(found[index].bytes == expected[index].bytes, "\(action.name) bytes")
    }
    #expect(expected[0].packets == 2)  // the runt and the out-of-range verdict
  }

  @Test func countedProgramWithSubprogramLoads() throws {
    cbpf_silence_libbpf()
    let instrumented = try ActionCountingPass(countersMapIndex: 0).apply(
      to: Fixtures.withSubprogram)
    let counters = try createMap(ActionCountingPass.countersMap)
    defer { close(counters) }
    let fd = try load(instrumented, maps: [counters])
    defer { close(fd) }
    let verdict = try run(fd, frame: frame(length: 64, selector: 0))
    #expect(verdict == 2)  // the subprogram returns 5 - 3
    let found = try totals(counters)
    #expect(found[2].packets == 1)
    #expect(found[2].bytes == 64)
  }
}
