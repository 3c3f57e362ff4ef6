/// Which form of an XDP program runs: as compiled, or the rewriter's
/// batch form. The command line's `--form`, the record's `"form"`, and
/// the console's program pane all speak of this.
public enum Form: String, Hashable, Codable, Sendable, CaseIterable {
  /// The program as compiled, called once per packet.
  case perPacket = "per-packet"
  /// The rewriter's batch form, called once per batch of buffers.
  case batch
}
