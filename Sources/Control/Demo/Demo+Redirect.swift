import BPF
import CBPF
import Glibc

extension Demo {
  /// The demo's second veth pair (`xdpbatch2`, its peer `xdpbatch3` in
  /// the namespace, 198.18.0.5/30 and .6/30): the target a redirecting
  /// sample's DEVMAP is filled with, so that `xdp_redirect_map` redirects
  /// in the demo instead of passing everything.
  public var redirectTarget: VethPair {
    VethPair(
      name: "xdpbatch2", peer: "xdpbatch3", namespace: namespace, address: "198.18.0.5/30",
      peerAddress: "198.18.0.6/30")
  }

  /// Fills every device map (`devmap`, `devmap_hash`) of the program on
  /// the demo's interface with ``redirectTarget``'s index, so that every
  /// key a sample may use redirects there. Returns how many maps it
  /// filled (0 for a program without one). On the software datapath the
  /// program is the user's one behind the redirect program
  /// (``DatapathRedirect``), whose DEVMAP the datapath follows.
  @discardableResult
  public func fillRedirectMaps() throws(SystemCallError) -> Int {
    let target = if_nametoindex(redirectTarget.name)
    guard target != 0,
      let attachedID = try ForeignProgramsReader.programID(interface: veth.name)
    else { return 0 }
    let programID = DatapathRedirect.userProgramID(attached: attachedID)
    var filled = 0
    for map in try ProgramDetails.read(id: programID).maps()
    where map.type == .devmap || map.type == .devmapHash {
      let fd = try check("open map \(map.id)") { bpf_map_get_fd_by_id(map.id) }
      defer { close(fd) }
      for key in 0..<min(map.maxEntries, 64) {
        var keyValue = key
        var value = target
        try check("fill \(map.name) with \(redirectTarget.name)") {
          bpf_map_update_elem(fd, &keyValue, &value, UInt64(BPF_ANY))
        }
      }
      filled += 1
    }
    return filled
  }
}

/// The program attached to an interface, by netlink, whoever attached it.
enum ForeignProgramsReader {
  /// The first program attached to `interface`, `nil` when none is.
  static func programID(interface: String) throws(SystemCallError) -> UInt32? {
    let index = if_nametoindex(interface)
    guard index != 0 else { return nil }
    let links = try LinkRecord.dump(over: NetlinkSocket(protocol: NetlinkSocket.route))
    return links.first { $0.index == index }?.xdp.programs.first?.id
  }
}
