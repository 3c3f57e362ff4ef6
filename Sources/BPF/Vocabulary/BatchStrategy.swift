/// Where a batch program keeps the values that must survive the original
/// program's body (the record pointer, the loop bound).
public enum BatchStrategy: String, Hashable, Codable, Sendable, CaseIterable {
  /// The proof of concept's way: the values sit at the top of the frame,
  /// and every access and pointer of the original frame moves down by the
  /// reserved bytes.
  case shift
  /// The values sit below the original frame's deepest use; nothing moves
  /// (what the kernel's `gen_epilogue` does since 6.12).
  case reserve

  /// The rewriter's default: nothing moves.
  public static let `default` = BatchStrategy.reserve
}

/// How a batch program knows when to stop looping.
public enum BatchBound: String, Hashable, Codable, Sendable, CaseIterable {
  /// Count up and compare with the batch size as an immediate, as the
  /// proof of concept did; the runner pads a partial batch.
  case immediate
  /// Count down from the record count the caller passes in R2.
  case count
  /// Compare the record pointer with an end address computed once from R2
  /// (one load and one compare a packet, no counter).
  case endPointer = "end-pointer"

  /// The rewriter's default: one load and one compare a packet.
  public static let `default` = BatchBound.endPointer
}
