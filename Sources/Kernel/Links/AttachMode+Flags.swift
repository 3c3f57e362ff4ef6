import BPF
import CLinux

extension AttachMode {
  /// The `XDP_FLAGS_*` mode bit.
  public var flags: UInt32 {
    switch self {
    case .native: UInt32(XDP_FLAGS_DRV_MODE)
    case .generic: UInt32(XDP_FLAGS_SKB_MODE)
    case .offload: UInt32(XDP_FLAGS_HW_MODE)
    }
  }
}
