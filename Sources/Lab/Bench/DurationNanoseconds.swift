extension Duration {
  /// The duration in nanoseconds, fractions kept (what the bench's loops
  /// divide by their calls or instructions).
  var nanoseconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
  }
}
