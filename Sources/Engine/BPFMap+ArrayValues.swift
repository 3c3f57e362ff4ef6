/// The values of an array map in place, for a caller that compares and
/// copies many at once (the software datapath's exchange with the
/// kernel's maps): no array per entry.
extension BPFMap {
  /// Calls `body` with the first value of an ARRAY or PERCPU_ARRAY of one
  /// processor and the bytes between consecutive values (value `i` at
  /// `values + i * stride`); nil for any other map.
  public func withArrayValues<Result>(
    _ body: (_ values: UnsafeMutableRawPointer, _ stride: Int) throws -> Result
  ) rethrows -> Result? {
    guard kind == .array, processors == 1, let values,
      let start = space.pointer(UInt64(values.start), count: Int(definition.maxEntries) * stride)
    else { return nil }
    return try body(start, stride)
  }
}
