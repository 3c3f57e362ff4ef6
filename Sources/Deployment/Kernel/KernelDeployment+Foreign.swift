import Glibc
import Kernel

extension KernelDeployment {
  /// The programs on `interface` that xdpbatch did not attach (by
  /// `xdp-loader`, `ip link set … xdp`, bpftool), with their modes.
  func foreignPrograms(interface: String) throws(DeploymentError) -> [AttachedProgram] {
    do {
      let index = try XDPAttachment.interfaceIndex(of: interface)
      var ours: UInt32?
      if let attachment = try XDPAttachment.open(interface: interface) {
        ours = try attachment.link.info().programID
      }
      return try ForeignPrograms(interface: interface, index: index).programs.filter {
        $0.id != ours
      }
    } catch let error as AttachError {
      throw .attach(error)
    } catch let error as SystemCallError {
      throw .attach(.kernel(error))
    } catch {
      throw .attach(.kernel(SystemCallError("read the programs of \(interface)", errno: .ioError)))
    }
  }

  /// Detaches the programs another tool attached to `interface` (every
  /// one, or only `programID`), as `xdpbatch detach --force` does;
  /// xdpbatch's own program and pins are left alone. Returns what was
  /// detached; if one detach fails, those already detached are put back.
  @discardableResult
  func detachForeign(interface: String, programID: UInt32? = nil)
    throws(DeploymentError) -> [AttachedProgram]
  {
    let foreign = try foreignPrograms(interface: interface).filter {
      programID == nil || $0.id == programID
    }
    guard !foreign.isEmpty else { throw .attach(.notAttached(interface: interface)) }
    var rollback = Rollback()
    defer { rollback.run() }
    do {
      let index = try XDPAttachment.interfaceIndex(of: interface)
      var programs = try ForeignPrograms(interface: interface, index: index)
      programs.programs = foreign
      try programs.detach(into: &rollback)
    } catch let error as AttachError {
      throw .attach(error)
    } catch let error as SystemCallError {
      throw .attach(.kernel(error))
    } catch {
      throw .attach(.kernel(SystemCallError("detach from \(interface)", errno: .ioError)))
    }
    rollback.commit()
    return foreign
  }
}
