import Deployment
import Kernel
import TestSupport

/// A veth pair in its own namespace (``TestNetwork``) and a scratch
/// directory for the files a test writes about it (captures, outputs);
/// ``tearDown()`` removes both and xdpbatch's record of the interface.
public struct NetworkScratch {
  /// The network.
  public let network: TestNetwork
  /// The directory.
  public let directory: ScratchDirectory

  /// Makes both; `name` names the directory.
  public init(directory name: String) throws {
    network = try TestNetwork()
    do {
      directory = try ScratchDirectory(name)
    } catch {
      network.tearDown()
      throw error
    }
  }

  /// The host side of the veth pair.
  public var interface: String { network.veth.name }

  /// Removes the record, the network and the directory.
  public func tearDown() {
    StateDirectory().removeRecord(interface: interface)
    network.tearDown()
    directory.remove()
  }
}
