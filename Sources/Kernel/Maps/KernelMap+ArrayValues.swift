import BPF
import CBPF
import Glibc

extension KernelMap {
  /// One CPU's copy of every value of an ARRAY or PERCPU_ARRAY, index by
  /// index, `valueSize` bytes each, in one buffer: what the software
  /// datapath reads back every exchange, without an array per entry.
  /// Read with `BPF_MAP_LOOKUP_BATCH`, else value by value; a batch asks
  /// for one value more than the array has (at most 4,096), so that an
  /// array that fits takes one call: the kernel then ends it with
  /// `ENOENT` instead of a second, empty call. `processor` is ignored for
  /// an ARRAY.
  public func arrayValues(processor: Int) throws(SystemCallError) -> [UInt8] {
    guard info.type == .array || info.type == .perCPUArray, info.keySize == 4 else {
      throw SystemCallError("read map \"\(info.name)\" as an array", errno: .invalid)
    }
    let size = Int(info.valueSize)
    let entries = Int(info.maxEntries)
    let copy = max(0, min(processor, copies - 1)) * valueStride
    let stride = valueStride * copies
    var result = [UInt8](repeating: 0, count: entries * size)
    // The kernel's position between calls: an array's next index.
    var position = [UInt32](repeating: 0, count: 2)
    var started = false
    let batch = min(entries + 1, 4096)
    var keys = [UInt32](repeating: 0, count: batch)
    var values = [UInt8](repeating: 0, count: stride * batch)
    while true {
      var count = UInt32(batch)
      var next = [UInt32](repeating: 0, count: 2)
      let finished: Bool
      do {
        finished = try lookupBatchCall(
          from: started ? position : nil, next: &next, keys: &keys, values: &values, count: &count)
      } catch
        where !started && [.invalid, .notSupported, .operationNotSupported].contains(error.errno)
      {
        return try arrayValuesOneByOne(processor: processor)
      }
      result.withUnsafeMutableBytes { target in
        values.withUnsafeBytes { source in
          for index in 0..<Int(count) where Int(keys[index]) < entries {
            (target.baseAddress! + Int(keys[index]) * size).copyMemory(
              from: source.baseAddress! + index * stride + copy, byteCount: size)
          }
        }
      }
      if finished || count == 0 { break }
      position = next
      started = true
    }
    return result
  }

  /// ``arrayValues(processor:)`` by one lookup per index.
  private func arrayValuesOneByOne(processor: Int) throws(SystemCallError) -> [UInt8] {
    let size = Int(info.valueSize)
    var result: [UInt8] = []
    result.reserveCapacity(Int(info.maxEntries) * size)
    for index in 0..<info.maxEntries {
      let copies = try lookup(key: Self.key(index)) ?? []
      let value = copies.isEmpty ? [] : copies[max(0, min(processor, copies.count - 1))]
      result += value.count == size ? value : [UInt8](repeating: 0, count: size)
    }
    return result
  }
}
