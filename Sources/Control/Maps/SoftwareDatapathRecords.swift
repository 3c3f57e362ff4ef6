import BPF
import Glibc

/// The software datapath's own counter records, pinned beside the action
/// counters as `/sys/fs/bpf/xdpbatch/IFACE/datapath`: a plain array that
/// only the datapath process writes (whole values), keys 0–4 laid out as
/// the action counters (`{packets, bytes}`), 5–7 its failures. Readers add
/// keys 0–4 to the kernel's per-CPU counters, which the kernel fallback may
/// be counting into at the same moment (docs/DESIGN-datapath.md).
public enum SoftwareDatapathRecords {
  /// The map's declaration.
  public static let definition = MapDefinition(
    name: "xdpbatch_dp", type: .array, keySize: 4, valueSize: 16, maxEntries: 8)

  /// Where the records are pinned for `pins`' interface.
  public static func path(_ pins: PinDirectory) -> String { pins.path + "/datapath" }

  /// The per-action records, all zero when none are pinned.
  public static func actions(_ pins: PinDirectory) -> ActionCounts {
    var counts = ActionCounts()
    let path = path(pins)
    guard access(path, F_OK) == 0, let map = try? KernelMap.open(pinnedAt: path, as: definition)
    else { return counts }
    for action in XDPAction.allCases {
      guard let words = try? map.lookupSummed(key: action.rawValue.littleEndianBytes),
        words.count >= 2
      else { continue }
      counts[action] = ActionCount(packets: words[0], bytes: words[1])
    }
    return counts
  }
}
