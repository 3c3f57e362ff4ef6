import BPF
import CBPF
import Glibc

extension KernelMap {
  /// Every key the map reports through `BPF_MAP_GET_NEXT_KEY`, in the
  /// kernel's order, at most `limit`. Array-like maps (arrays, DEVMAP,
  /// CPUMAP) report every index, set or not: look each up to see which
  /// hold a value.
  public func keys(limit: Int = 1 << 20) throws(SystemCallError) -> [[UInt8]] {
    var keys: [[UInt8]] = []
    var previous: [UInt8]? = nil
    while keys.count < limit {
      var next = [UInt8](repeating: 0, count: Int(info.keySize))
      do {
        try check("list the keys of map \"\(info.name)\"") {
          next.withUnsafeMutableBytes { nextBytes in
            guard let previous else {
              return bpf_map_get_next_key(descriptor.rawValue, nil, nextBytes.baseAddress)
            }
            return previous.withUnsafeBytes {
              bpf_map_get_next_key(descriptor.rawValue, $0.baseAddress, nextBytes.baseAddress)
            }
          }
        }
      } catch  where error.errno == .notFound {
        break
      }
      keys.append(next)
      previous = next
    }
    return keys
  }

  /// Every entry (key and value copies, as ``lookup(key:)`` gives them),
  /// in the kernel's order, at most `limit`: keys that hold no value
  /// (an empty DEVMAP slot) are left out. Read with batch lookups where
  /// the map supports them (hash and array maps: one call for up to 256
  /// entries), else key by key.
  public func entries(limit: Int = 1 << 16) throws(SystemCallError) -> [(
    key: [UInt8], copies: [[UInt8]]
  )] {
    if let batched = try lookupBatch(limit: limit) { return batched }
    var entries: [(key: [UInt8], copies: [[UInt8]])] = []
    for key in try keys(limit: limit) {
      if let copies = try lookup(key: key) { entries.append((key, copies)) }
    }
    return entries
  }
}
