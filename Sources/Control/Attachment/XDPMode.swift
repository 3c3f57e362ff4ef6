import CLinux

/// Where the kernel runs an attached XDP program.
public enum XDPMode: String, Codable, Sendable, CaseIterable {
  /// In the driver, before an `sk_buff` exists (`XDP_FLAGS_DRV_MODE`).
  case native
  /// After the `sk_buff` is built, for any device (`XDP_FLAGS_SKB_MODE`).
  case generic
  /// On the NIC itself (`XDP_FLAGS_HW_MODE`); reported, never requested.
  case offload

  /// The `XDP_FLAGS_*` mode bit.
  public var flags: UInt32 {
    switch self {
    case .native: UInt32(XDP_FLAGS_DRV_MODE)
    case .generic: UInt32(XDP_FLAGS_SKB_MODE)
    case .offload: UInt32(XDP_FLAGS_HW_MODE)
    }
  }
}
