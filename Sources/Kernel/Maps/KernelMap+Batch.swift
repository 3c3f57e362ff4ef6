import BPF
import CBPF
import Glibc

extension KernelMap {
  /// Entries per batch call.
  static let batchSize = 256

  /// Every entry through `BPF_MAP_LOOKUP_BATCH`, at most `limit`; `nil`
  /// when the map's type has no batch operations (the kernel answers
  /// `EINVAL` or `ENOTSUPP`: DEVMAP, XSKMAP, PROG_ARRAY...), so that the
  /// caller reads it key by key.
  public func lookupBatch(limit: Int = 1 << 16) throws(SystemCallError) -> [(
    key: [UInt8], copies: [[UInt8]]
  )]? {
    let keySize = Int(info.keySize)
    let stride = valueStride * copies
    guard keySize > 0, info.valueSize > 0 else { return nil }
    var entries: [(key: [UInt8], copies: [[UInt8]])] = []
    // The kernel's position between calls: an opaque token the size of a key
    // (hash maps keep a bucket index there).
    var position = [UInt8](repeating: 0, count: max(keySize, 8))
    var started = false
    while entries.count < limit {
      var count = UInt32(min(Self.batchSize, limit - entries.count))
      var keys = [UInt8](repeating: 0, count: keySize * Int(count))
      var values = [UInt8](repeating: 0, count: stride * Int(count))
      var next = [UInt8](repeating: 0, count: position.count)
      let finished: Bool
      do {
        finished = try lookupBatchCall(
          from: started ? position : nil, next: &next, keys: &keys, values: &values, count: &count)
      } catch
        where error.errno == .noSpace
        || (!started && [.invalid, .notSupported, .operationNotSupported].contains(error.errno))
      {
        // No batch operations for this map (or a hash bucket larger than
        // a batch): the caller reads it key by key.
        return nil
      }
      for index in 0..<Int(count) {
        let key = Array(keys[index * keySize..<(index + 1) * keySize])
        entries.append((key, split(values[index * stride..<(index + 1) * stride])))
      }
      if finished || count == 0 { break }
      position = next
      started = true
    }
    return Array(entries.prefix(limit))
  }

  /// One `BPF_MAP_LOOKUP_BATCH` call: up to `count` entries into `keys`
  /// and `values`, after the kernel's `position` token (nil: from the
  /// start), the token for the next call in `next`. Returns whether this
  /// was the last batch (the kernel's `ENOENT`); `count` then holds what
  /// it returned. Any other failure is thrown.
  func lookupBatchCall<Token, Key>(
    from position: [Token]?, next: inout [Token], keys: inout [Key], values: inout [UInt8],
    count: inout UInt32
  ) throws(SystemCallError) -> Bool {
    var position = position ?? []
    let started = !position.isEmpty
    do {
      try ZeroedStorage.options(bpf_map_batch_opts.self) { (options) throws(SystemCallError) in
        try check("look up a batch of map \"\(info.name)\"") {
          keys.withUnsafeMutableBytes { keyBytes in
            values.withUnsafeMutableBytes { valueBytes in
              next.withUnsafeMutableBytes { nextBytes in
                position.withUnsafeMutableBytes { positionBytes in
                  bpf_map_lookup_batch(
                    descriptor.rawValue, started ? positionBytes.baseAddress : nil,
                    nextBytes.baseAddress, keyBytes.baseAddress, valueBytes.baseAddress,
                    &count, options)
                }
              }
            }
          }
        }
      }
    } catch  where error.errno == .notFound {
      return true
    }
    return false
  }

  /// Stores every pair through `BPF_MAP_UPDATE_BATCH` (per-CPU maps: each
  /// value on every CPU); every value must have the map's value size.
  public func updateBatch(_ pairs: [(key: [UInt8], value: [UInt8])]) throws(SystemCallError) {
    guard !pairs.isEmpty else { return }
    for pair in pairs
    where pair.key.count != Int(info.keySize) || pair.value.count != Int(info.valueSize) {
      throw SystemCallError(
        "update map \"\(info.name)\" with a \(pair.key.count)-byte key and \(pair.value.count)-byte value",
        errno: .invalid)
    }
    var keys = Array(pairs.map(\.key).joined())
    var values = Array(pairs.map { buffer(for: $0.value) }.joined())
    var count = UInt32(pairs.count)
    try ZeroedStorage.options(bpf_map_batch_opts.self) { (options) throws(SystemCallError) in
      try check("update a batch of map \"\(info.name)\"") {
        keys.withUnsafeMutableBytes { keyBytes in
          values.withUnsafeMutableBytes { valueBytes in
            bpf_map_update_batch(
              descriptor.rawValue, keyBytes.baseAddress, valueBytes.baseAddress, &count, options)
          }
        }
      }
    }
  }

  /// Removes every key through `BPF_MAP_DELETE_BATCH`; the kernel stops at
  /// the first key that is not there (`ENOENT`). Returns how many it removed.
  @discardableResult
  public func deleteBatch(_ keys: [[UInt8]]) throws(SystemCallError) -> Int {
    guard !keys.isEmpty else { return 0 }
    var bytes = Array(keys.joined())
    var count = UInt32(keys.count)
    do {
      try ZeroedStorage.options(bpf_map_batch_opts.self) { (options) throws(SystemCallError) in
        try check("delete a batch from map \"\(info.name)\"") {
          bytes.withUnsafeMutableBytes {
            bpf_map_delete_batch(descriptor.rawValue, $0.baseAddress, &count, options)
          }
        }
      }
    } catch  where error.errno == .notFound {
      return Int(count)
    }
    return Int(count)
  }
}
