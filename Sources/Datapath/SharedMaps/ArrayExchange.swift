import BPF
import Engine
import Glibc
import Kernel

/// The exchange of an ARRAY or PERCPU_ARRAY of up to
/// ``MapExchange/entryLimit`` entries, on flat buffers: the engine's
/// values are compared in place with the base (one buffer of the
/// kernel's values as of the last exchange), only the entries that differ
/// become fold records, and the kernel's values come back in one buffer
/// (``KernelMap/arrayValues(processor:)``) copied over the engine's where
/// they differ. The same steps as the general path, without a
/// dictionary or an array per entry: xdp1's 256 counters cost a compare
/// each, not a dictionary entry each.
extension MapExchange {
  /// Whether `map` takes this path.
  static func isFlatArray(_ map: SharedMaps.Map, _ engineMap: BPFMap) -> Bool {
    map.isArray && map.kernel.info.maxEntries <= UInt32(entryLimit)
      && map.kernel.info.valueSize == engineMap.definition.valueSize
      && engineMap.definition.maxEntries == map.kernel.info.maxEntries
      && engineMap.withArrayValues({ _, _ in true }) == true
  }

  /// Folds the entries the engine changed since the base, then copies
  /// the kernel's values (the fold's CPU's) into the engine.
  func exchangeFlatArray(_ map: SharedMaps.Map, _ engineMap: BPFMap) throws(SystemCallError)
    -> String?
  {
    let size = Int(map.kernel.info.valueSize)
    let entries = Int(map.kernel.info.maxEntries)
    let base = flatBases[map.index] ?? [UInt8](repeating: 0, count: entries * size)
    var processor = Processes.currentCPU
    var problem: String?
    if loaded, let fold = map.fold {
      let lanes = map.lanes
      let records: [DeltaFold.Record] =
        engineMap.withArrayValues { values, stride in
          base.withUnsafeBytes { old in
            var records: [DeltaFold.Record] = []
            for index in 0..<entries
            where memcmp(values + index * stride, old.baseAddress! + index * size, size) != 0 {
              let new = [UInt8](UnsafeRawBufferPointer(start: values + index * stride, count: size))
              let previous = Array(old[index * size..<(index + 1) * size])
              if let delta = lanes.delta(from: previous, to: new) {
                records.append(
                  DeltaFold.Record(operation: .add, key: BPFMap.key(UInt32(index)), delta: delta))
              }
            }
            return records
          }
        } ?? []
      if !records.isEmpty {
        let outcome = try fold.run(records)
        processor = outcome.processor
        if let first = outcome.refused.first {
          problem =
            "map \(map.name): the kernel refused \(outcome.refused.count) change(s) of the program's: \(first.errno.message)"
        }
      }
    }
    let fresh = try map.kernel.arrayValues(processor: processor)
    _ = engineMap.withArrayValues { values, stride in
      fresh.withUnsafeBytes { kernel in
        for index in 0..<entries
        where memcmp(values + index * stride, kernel.baseAddress! + index * size, size) != 0 {
          (values + index * stride).copyMemory(
            from: kernel.baseAddress! + index * size, byteCount: size)
        }
      }
    }
    flatBases[map.index] = fresh
    return problem
  }
}
