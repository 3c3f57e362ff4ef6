/// Where the kernel runs an attached XDP program, in the words of
/// xdp-loader and bpftool. The command line's `--mode`, the record's
/// `"attach_mode"` and `IFLA_XDP`'s report all speak of this.
public enum AttachMode: String, Hashable, Codable, Sendable, CaseIterable {
  /// In the driver, before an `sk_buff` exists (`XDP_FLAGS_DRV_MODE`).
  case native
  /// After the `sk_buff` is built, for any device (`XDP_FLAGS_SKB_MODE`).
  case generic
  /// On the NIC itself (`XDP_FLAGS_HW_MODE`), only where the driver
  /// offloads programs.
  case offload

  /// The mode an operator's spelling names: the names above, and
  /// xdp-loader's `drv`, `skb` and `hw`; `nil` for anything else.
  public init?(spelling: String) {
    switch spelling.lowercased() {
    case "native", "drv", "driver": self = .native
    case "generic", "skb": self = .generic
    case "offload", "hw", "hardware": self = .offload
    default: return nil
    }
  }
}
