import BPF
import Deployment
import Dispatch
import Foundation
import Kernel

extension Demo {
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

  /// Lets ``redirectTarget`` take what the kernel datapath redirects to
  /// it. A veth hands an XDP frame redirected to it (`veth_xdp_xmit`) to
  /// its peer's NAPI, which runs only while the peer has an XDP program
  /// (or GRO on); otherwise it drops the frame (`ENXIO` at the
  /// `xdp:xdp_redirect_err` tracepoint) and no tcpdump sees it. So the
  /// peer, inside the namespace, gets a program that passes every frame
  /// (`r0 = XDP_PASS; exit`): redirected frames then reach its stack and
  /// its taps. The software datapath sends through a packet socket and
  /// needs none of this. Attached once; it goes with the pair.
  public func letRedirectTargetReceive() throws(SystemCallError) {
    let pass = Program(
      name: "xdp_pass", sectionName: "xdp",
      instructions: [.move(.r0, immediate: Int32(XDPAction.pass.rawValue)), .exit])
    let loaded: LoadedProgram
    do {
      loaded = try ProgramLoader(maps: []).load(pass).program
    } catch {
      throw SystemCallError(
        "load the redirect target's XDP_PASS program: \(error)", errno: .invalid)
    }
    let peer = redirectTarget.peer
    let namespace = self.namespace
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var failure: SystemCallError?
    // setns moves one thread; the attach runs on a thread of its own.
    let thread = Thread {
      defer { done.signal() }
      do throws(SystemCallError) {
        try namespace.enterOnCurrentThread()
        guard let index = NetworkInterface.index(of: peer) else {
          throw SystemCallError("find \(peer) in \(namespace.name)", errno: .noDevice)
        }
        if try NetlinkXDP.programs(interfaceIndex: index, interface: peer).isEmpty {
          try NetlinkXDP.attach(loaded, interfaceIndex: index, mode: .native)
        }
      } catch {
        failure = error
      }
    }
    thread.start()
    done.wait()
    if let failure { throw failure }
  }
}
