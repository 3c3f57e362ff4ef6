import BPF
import Datapath
import Deployment
import Foundation
import Glibc
import Inspection
import Kernel
import TestSupport
import Testing

/// Each forging path as a program in an object: writes to `data`,
/// `data_end` and `data_meta`, a read and a write of the next frame
/// (4096 bytes on), and a TX of a range past the frame (`data_end` moved
/// by 4000). `run` and `check` refuse the context writes when they
/// prepare the program, naming the instruction; on an interface whose
/// software datapath runs, every one is refused before anything changes
/// (the kernel's verifier, which loads the fallback first, refuses them
/// all), and the datapath keeps running and counting. What gets past a
/// check (a pointer laundered through a map) is contained in the engine:
/// FrameContainmentTests.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct FrameForgingTests {
  static func forger(_ name: String, _ instructions: [Instruction]) -> Program {
    Program(name: name, sectionName: "xdp", instructions: instructions)
  }

  /// The forging programs, each with the instruction the engine names (nil
  /// where only the kernel's verifier and the engine's page table stand).
  static let forgers: [(Program, String?)] = [
    (
      forger(
        "write_data",
        [
          .load(.word, .r2, from: .r1, offset: 0), .add(.r2, immediate: 8),
          .store(.word, .r2, to: .r1, offset: 0), .move(.r0, immediate: 3), .exit,
        ]),
      "instruction 2: the kernel refuses this in an XDP program: invalid bpf_context access off=0 size=4"
    ),
    (
      forger(
        "write_data_end",
        [
          .load(.word, .r2, from: .r1, offset: 4), .add(.r2, immediate: 4000),
          .store(.word, .r2, to: .r1, offset: 4), .move(.r0, immediate: 3), .exit,
        ]),
      "instruction 2: the kernel refuses this in an XDP program: invalid bpf_context access off=4 size=4"
    ),
    (
      forger(
        "write_data_meta",
        [.store(.word, immediate: 0, to: .r1, offset: 8), .move(.r0, immediate: 2), .exit]),
      "instruction 0: the kernel refuses this in an XDP program: invalid bpf_context access off=8 size=4"
    ),
    (
      forger(
        "read_next_frame",
        [
          .load(.word, .r2, from: .r1, offset: 0), .add(.r2, immediate: 4096),
          .load(.byte, .r0, from: .r2, offset: 0), .move(.r0, immediate: 2), .exit,
        ]), nil
    ),
    (
      forger(
        "write_next_frame",
        [
          .load(.word, .r2, from: .r1, offset: 0), .add(.r2, immediate: 4096),
          .store(.byte, immediate: 0x99, to: .r2, offset: 0), .move(.r0, immediate: 2), .exit,
        ]), nil
    ),
  ]

  static func write(_ program: Program) throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-forger-\(UInt32.random(in: 0..<UInt32.max)).o").path
    try Data(try ObjectWriter(program: program, maps: []).bytes()).write(
      to: URL(fileURLWithPath: path))
    return path
  }

  @Test func runAndCheckRefuseContextWritesNamingTheInstruction() throws {
    for (program, refusal) in Self.forgers {
      guard let refusal else { continue }
      let path = try Self.write(program)
      defer { unlink(path) }
      for command in [["run", path], ["check", path, "--packets", "10"]] {
        let result = try BuiltXDPBatch.run(command)
        #expect(result.status == 1, "\(command[0]) \(program.name): \(result.output)")
        #expect(
          result.errors.contains(refusal), "\(command[0]) \(program.name): \(result.errors)")
      }
    }
  }

  @Test func forgersAreRefusedAndTheRunningDatapathKeepsRunning() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attached = try BuiltXDPBatch.run([
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
      "--datapath", "software", "--form", "batch",
    ])
    try #require(attached.status == 0, "\(attached.errors)")
    let record = try #require(StateDirectory().record(interface: interface))
    let process = try #require(record.process)
    func dropped() -> UInt64 {
      (try? DatapathClient(interface: interface).status())?.counters.actions[.drop].packets ?? 0
    }
    for (program, _) in Self.forgers {
      let path = try Self.write(program)
      defer { unlink(path) }
      for form in ["per-packet", "batch"] {
        let result = try BuiltXDPBatch.run([
          "attach", interface, path, "--datapath", "software", "--form", form,
        ])
        #expect(result.status == 1, "\(program.name) (\(form)) was attached")
        #expect(
          result.errors.contains(program.name) && !result.errors.isEmpty,
          "\(program.name): \(result.errors)")
        // Nothing changed: the record, the process, and its counting.
        #expect(StateDirectory().record(interface: interface) == record, "\(program.name)")
        #expect(process.isAlive, "\(program.name): the datapath still runs")
        let before = dropped()
        try network.send(DatapathNetwork.udp(port: 9), count: 50)
        #expect(
          eventually { dropped() >= before + 50 }, "\(program.name): the datapath still counts")
      }
    }
    #expect(try DatapathClient(interface: interface).status().pid == process.pid)
    #expect(try BuiltXDPBatch.run(["detach", interface]).status == 0)
  }
}
