import BPF

/// How the software datapath's engines hold a map of the user's program
/// (docs/DESIGN.md, "Maps on the software datapath"): the one rule that
/// the engines' mirror (``RedirectMapMirror``) follows and that `map dump`
/// reports. Redirect maps follow the kernel's copy (the one `xdpbatch
/// map` changes); every other map is the engines' own state.
public enum MapFollowing: String, Hashable, Sendable, Encodable {
  /// The engines re-read the kernel's copy every ``refreshMilliseconds``.
  case followed
  /// The engines keep their own copy; the kernel's is the fallback's.
  case engineOwn = "engine-own"

  /// The map types whose kernel copies the engines follow: DEVMAP,
  /// DEVMAP_HASH, CPUMAP, and which keys of an XSKMAP hold a socket.
  public static let followedTypes: Set<MapType> = [.devmap, .devmapHash, .cpumap, .xskmap]

  /// How often the followed maps are re-read (with the counters' flush).
  public static let refreshMilliseconds = 50

  /// How the engines hold a map of `type`.
  public init(_ type: MapType) {
    self = Self.followedTypes.contains(type) ? .followed : .engineOwn
  }
}
