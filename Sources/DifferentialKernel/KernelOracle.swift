import BPF
import Differential
import Engine
import Glibc
import Kernel

/// The kernel as the third oracle: a ``GeneratedCase`` built to pass the
/// verifier is loaded as an XDP program and each packet goes through
/// `BPF_PROG_TEST_RUN`; the engine (each engine) runs the same packets on
/// maps of the same shape, on the CPU the test runs use, and must give the
/// same verdicts (the kernel's u32), the same bytes from `data_meta` to
/// `data_end`, and the same maps afterwards. A program the verifier
/// refuses is not comparable: counted as such, never as agreement.
public struct KernelOracle: Sendable {
  /// What one comparison found.
  public enum Verdict: Sendable {
    /// The engines and the kernel agree on every packet and map;
    /// `executions` test runs (packets) were compared with each engine.
    case agreed(executions: Int)
    /// The verifier refused the program (its first log line).
    case notComparable(reason: String)
  }

  /// The engines compared with the kernel.
  public var engines: [EngineKind]

  public init(engines: [EngineKind] = EngineKind.allCases) {
    self.engines = engines
  }

  /// Why the machine cannot ask the kernel, or nil when it can (root, BPF).
  public static let unavailableReason: String? = {
    if getuid() != 0 { return "needs root (BPF_PROG_LOAD, BPF_PROG_TEST_RUN)" }
    let probe = MapDefinition(name: "probe", type: .array, keySize: 4, valueSize: 4, maxEntries: 1)
    do {
      _ = try KernelMap.create(probe)
    } catch {
      return "BPF is not usable here: \(error)"
    }
    return nil
  }()

  /// Compares `generated` (a verifiable case) with the kernel.
  ///
  /// - Throws: ``Disagreement`` (oracle `.kernel`) on any difference, or
  ///   a setup error (``KernelOracleError``).
  public func compare(_ generated: GeneratedCase) throws -> Verdict {
    precondition(generated.isKernelComparable, "only verifiable cases go to the kernel")
    return try Processes.onCurrentCPU { cpu in try compare(generated, cpu: cpu) }
  }

  private func compare(_ generated: GeneratedCase, cpu: Int) throws -> Verdict {
    let loader = ProgramLoader(maps: generated.maps, license: "GPL")
    let loaded: ProgramLoader.Loaded
    do {
      loaded = try loader.load(generated.program)
    } catch {
      guard let log = error.verifierLog else { throw error }
      let reason =
        log.split(separator: "\n").last { !$0.hasPrefix("processed ") && !$0.isEmpty }
        .map(String.init) ?? "refused"
      return .notComparable(reason: reason)
    }
    var kernel: [TestRun.Result] = []
    for packet in generated.packets {
      kernel.append(try TestRun(frame: packet).run(loaded.program))
    }
    let kernelMaps = try Self.contents(of: loaded.maps, generated.maps)
    for engine in engines {
      let machine = try Machine(
        maps: generated.maps,
        configuration: MachineConfiguration(
          processorID: UInt32(cpu), processorCount: KernelMap.possibleCPUs, engine: engine,
          memoryBudget: MemoryBudget(limit: 256 << 20)))
      let runner: PacketRunner
      do {
        runner = try PacketRunner(
          machine: machine, program: machine.prepare(generated.program), form: .perPacket)
      } catch {
        throw disagreement(
          generated, "the \(engine) engine refused what the kernel loads: \(error)")
      }
      for (index, packet) in generated.packets.enumerated() {
        let outcome: PacketOutcome
        do {
          outcome = try runner.run([packet]).outcomes[0]
        } catch {
          throw disagreement(
            generated, "packet \(index): the \(engine) engine failed where the kernel ran: \(error)"
          )
        }
        let expected = kernel[index]
        let verdict = UInt32(truncatingIfNeeded: outcome.returnValue)
        let bytes = outcome.metadata + outcome.output
        guard verdict == expected.returnValue, bytes == expected.frame else {
          throw disagreement(
            generated,
            "packet \(index) (\(engine)): kernel returned \(expected.returnValue) with "
              + "\(expected.frame.count) bytes, engine \(verdict) with \(bytes.count) bytes"
              + (bytes == expected.frame
                ? ""
                : "; kernel \(Disagreement.hex(Array(expected.frame.prefix(32)))), engine \(Disagreement.hex(Array(bytes.prefix(32))))")
          )
        }
      }
      let engineMaps = Self.contents(of: machine, loaded.maps.keys)
      guard engineMaps == kernelMaps else {
        let differing = kernelMaps.keys.sorted().filter { kernelMaps[$0] != engineMaps[$0] }
        throw disagreement(
          generated,
          "maps differ after the run (\(engine)): \(differing.map { "\($0): kernel \(kernelMaps[$0] ?? [:]) engine \(engineMaps[$0] ?? [:])" })"
        )
      }
    }
    return .agreed(executions: generated.packets.count)
  }

  private func disagreement(_ generated: GeneratedCase, _ summary: String) -> Disagreement {
    Disagreement(
      oracle: .kernel, summary: summary, program: generated.program, packets: generated.packets)
  }

  /// Map name, key, per-CPU values: every entry with a non-zero value on
  /// some CPU (all-zero array entries are what both start with).
  typealias Contents = [String: [[UInt8]: [[UInt8]]]]

  static func contents(of maps: [Int: KernelMap], _ definitions: [MapDefinition]) throws
    -> Contents
  {
    var result: Contents = [:]
    for (index, map) in maps where definitions[index].type != .programArray {
      var entries: [[UInt8]: [[UInt8]]] = [:]
      for key in try map.keys() {
        guard let values = try map.lookup(key: key) else { continue }
        if values.allSatisfy({ $0.allSatisfy { $0 == 0 } }) && definitions[index].isArray {
          continue
        }
        entries[key] = values
      }
      result[definitions[index].name] = entries
    }
    return result
  }

  static func contents(of machine: Machine, _ indices: some Sequence<Int>) -> Contents {
    var result: Contents = [:]
    for index in indices where machine.maps[index].definition.type != .programArray {
      let map = machine.maps[index]
      var entries: [[UInt8]: [[UInt8]]] = [:]
      for key in map.storedKeys {
        guard let values = map.perProcessorValues(key: key) else { continue }
        if values.allSatisfy({ $0.allSatisfy { $0 == 0 } }) && map.definition.isArray { continue }
        entries[key] = values
      }
      result[map.definition.name] = entries
    }
    return result
  }
}

extension MapDefinition {
  /// Arrays hold every index from the start (zeroed).
  var isArray: Bool { type == .array || type == .perCPUArray }
}
