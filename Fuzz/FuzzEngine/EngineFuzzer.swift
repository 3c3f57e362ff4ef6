import BPF
import Engine
import Frames
import FuzzSupport
import Rewriter

/// Fuzzes the engine: any bytes as an instruction stream, prepared on a
/// machine with an array, a hash, a per-CPU array and a device map, run
/// per packet over generated frames, and, when the rewriter accepts it,
/// rewritten into its batch form and run in batches. A crash, an ASan
/// report (an access outside the address space), a leak or a hang is a
/// finding; refusals and execution errors are not.
@_cdecl("FuzzEngine_main")
func fuzzEngineMain(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
  MemoryBudget.shared.limit = 1 << 30
  var generator = FrameGenerator(seed: 7)
  let frames = generator.frames(4)
  let maps = [
    MapDefinition(name: "counters", type: .array, keySize: 4, valueSize: 8, maxEntries: 16),
    MapDefinition(name: "flows", type: .hash, keySize: 4, valueSize: 16, maxEntries: 64),
    MapDefinition(name: "stats", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 4),
    MapDefinition(name: "ports", type: .devmap, keySize: 4, valueSize: 4, maxEntries: 8),
  ]
  let configuration = MachineConfiguration(
    instructionBudget: 20_000, processorCount: 2, fixedClock: (1_000, 10))
  return runLibFuzzer(argc: argc, argv: argv) { bytes in
    guard let instructions = try? Instruction.decode(littleEndian: bytes.prefix(bytes.count & ~7)),
      !instructions.isEmpty
    else { return }
    let program = Program(name: "fuzz", sectionName: "xdp", instructions: instructions)
    if let machine = try? Machine(maps: maps, configuration: configuration) {
      machine.seedDeviceMaps()
      if let prepared = try? machine.prepare(program),
        let runner = try? PacketRunner(machine: machine, program: prepared, form: .perPacket)
      {
        _ = try? runner.run(frames)
      }
    }
    guard let batch = try? BatchTrampoline(batchSize: 4).rewrite(program),
      let machine = try? Machine(maps: maps, configuration: configuration),
      let prepared = try? machine.prepare(batch.program),
      let runner = try? PacketRunner(machine: machine, program: prepared, form: .batch, batchSize: 4)
    else { return }
    _ = try? runner.run(frames, batchSizes: [3, 1])
  }
}
