import BPF
import Engine
import Foundation
import Kernel

/// One sample program set up twice, in the kernel and in the engine, from
/// the same initial maps; ``compare(_:)`` runs frames through both.
struct FidelityRun {
  /// What differed, frame by frame and map by map.
  struct Comparison {
    var frames = 0
    var mismatches: [String] = []
    var mapDifferences: [String] = []
    var kernelVerdicts: [UInt32] = []
    var referencedMaps = 0
    var comparedMaps = 0
  }

  let sample: SampleProgram
  let device: TestDevice
  let cpu: Int
  /// The engine the program runs in.
  var engine = EngineKind.platformDefault

  func compare(_ frames: [[UInt8]]) throws -> Comparison {
    let object = try BPFObject(contentsOf: sample.path)
    let program = try object.program(named: sample.program)
    let initial = InitialMaps(object: object, program: sample.program, device: device.index)

    // The kernel.
    let loader = ProgramLoader(maps: object.maps, license: object.license ?? "GPL")
    var targets: [String: ProgramLoader.Loaded] = [:]
    for slot in initial.programSlots where targets[slot.program] == nil {
      targets[slot.program] = try loader.load(object.program(named: slot.program))
    }
    let kernel = try loader.load(program)
    for entry in initial.values {
      try kernel.maps[entry.map]?.update(key: entry.key, value: entry.value)
    }
    for slot in initial.programSlots {
      guard let map = kernel.maps[slot.map], let target = targets[slot.program] else { continue }
      let descriptor = UInt32(bitPattern: target.program.descriptor.rawValue)
      try map.update(key: InitialMaps.key(slot.slot), value: InitialMaps.key(descriptor))
    }

    // The engine.
    let machine = try Machine(
      maps: object.maps,
      configuration: MachineConfiguration(
        processorID: UInt32(cpu), processorCount: Kernel.KernelMap.possibleCPUs, engine: engine))
    for entry in initial.values {
      try machine.maps[entry.map].update(key: entry.key, value: entry.value)
    }
    for slot in initial.programSlots {
      let target = try machine.prepare(object.program(named: slot.program))
      try machine.maps[slot.map].setProgram(target, at: slot.slot)
    }
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(program), form: .perPacket)
    runner.ingressInterface = device.index

    var comparison = Comparison()
    for (index, frame) in frames.enumerated() {
      let queue = UInt32(index) % TestDevice.receiveQueues
      let expected = try TestRun(frame: frame, interfaceIndex: device.index, queueIndex: queue)
        .run(kernel.program)
      comparison.kernelVerdicts.append(expected.returnValue)
      comparison.frames += 1
      runner.receiveQueue = queue
      let outcome: PacketOutcome
      do {
        outcome = try runner.run([frame]).outcomes[0]
      } catch {
        comparison.mismatches.append("frame \(index): engine failed: \(error)")
        continue
      }
      // The kernel's data_out runs from data_meta to data_end.
      let output = outcome.metadata + outcome.output
      let verdict = UInt32(truncatingIfNeeded: outcome.returnValue)
      let action = XDPAction(returnValue: UInt64(expected.returnValue))
      if verdict != expected.returnValue || outcome.action != action || output != expected.frame {
        comparison.mismatches.append(
          "frame \(index) (\(frame.count) bytes, queue \(queue)): kernel \(expected.returnValue)"
            + " with \(expected.frame.count) bytes, engine \(verdict) (\(outcome.action.name)) with"
            + " \(outcome.metadata.count)+\(outcome.output.count) bytes"
            + (output == expected.frame
              ? ""
              : "; kernel out \(hex(expected.frame.prefix(24))), engine \(hex(output.prefix(24)))")
            + "; frame " + hex(frame.prefix(24)))
      }
    }

    for (index, map) in kernel.maps.sorted(by: { $0.key < $1.key })
    where map.info.type != .programArray {
      comparison.referencedMaps += 1
      let kernelEntries = try entries(of: map)
      let engineEntries = entries(of: machine.maps[index])
      comparison.comparedMaps += 1
      for key in Set(kernelEntries.keys).union(engineEntries.keys).sorted(by: { hex($0) < hex($1) })
      where kernelEntries[key] != engineEntries[key] {
        comparison.mapDifferences.append(
          "map \(map.info.name) key \(hex(key)): kernel "
            + "\(kernelEntries[key].map { $0.map(hex) } ?? []), engine "
            + "\(engineEntries[key].map { $0.map(hex) } ?? [])")
      }
    }
    return comparison
  }

  /// Every key the kernel map holds a value for, with every CPU's copy.
  private func entries(of map: Kernel.KernelMap) throws -> [[UInt8]: [[UInt8]]] {
    var entries: [[UInt8]: [[UInt8]]] = [:]
    for key in try map.keys() {
      if let values = try map.lookup(key: key) { entries[key] = values }
    }
    return entries
  }

  private func entries(of map: Engine.BPFMap) -> [[UInt8]: [[UInt8]]] {
    var entries: [[UInt8]: [[UInt8]]] = [:]
    for key in map.keys {
      if let values = map.perProcessorValues(key: key) { entries[key] = values }
    }
    return entries
  }
}

func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
  bytes.map { String(format: "%02x", $0) }.joined()
}
