import CBPF
import Glibc

extension KernelMap {
  /// Every key the map reports through `BPF_MAP_GET_NEXT_KEY`, in the
  /// kernel's order. Array-like maps (arrays, DEVMAP, CPUMAP) report every
  /// index, set or not: look each up to see which hold a value.
  public func keys() throws(SystemCallError) -> [[UInt8]] {
    let size = Int(definition.keySize)
    var keys: [[UInt8]] = []
    var previous: [UInt8]? = nil
    while true {
      var next = [UInt8](repeating: 0, count: size)
      errno = 0
      let result = next.withUnsafeMutableBytes { nextBytes in
        if let previous {
          return previous.withUnsafeBytes { previousBytes in
            bpf_map_get_next_key(
              descriptor.rawValue, previousBytes.baseAddress, nextBytes.baseAddress)
          }
        }
        return bpf_map_get_next_key(descriptor.rawValue, nil, nextBytes.baseAddress)
      }
      if result < 0 {
        if errno == ENOENT { return keys }
        throw SystemCallError("list keys of map \"\(definition.name)\"", code: errno)
      }
      keys.append(next)
      previous = next
    }
  }
}
