import Deployment
import Kernel

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
    guard let target = NetworkInterface.index(of: redirectTarget.name) else { return 0 }
    let deployed: DeployedProgram
    do {
      deployed = try DeployedProgram.on(veth.name)
    } catch {
      guard case .kernel(let call) = error else { return 0 }
      throw call
    }
    var filled = 0
    for map in try deployed.program.program.maps()
    where map.info.type == .devmap || map.info.type == .devmapHash {
      do throws(SystemCallError) {
        for key in 0..<min(map.info.maxEntries, 64) {
          try map.update(key: KernelMap.key(key), value: KernelMap.key(target))
        }
      } catch {
        throw SystemCallError(
          "fill \(map.info.name) with \(redirectTarget.name)", errno: error.errno)
      }
      filled += 1
    }
    return filled
  }
}
