import Foundation
import Glibc
import Kernel
import Testing

@testable import Datapath

/// The control socket's directory, when the datapath is the first to need
/// it (`demo down` removes /run/xdpbatch once it is empty): made root's
/// only (0700) like every state file's, never world-readable.
@Suite struct ControlSocketDirectoryTests {
  @Test func aDirectoryTheSocketMakesIsTheOwnersOnly() throws {
    var template = Array("/tmp/xdpbatch-control-XXXXXX".utf8CString)
    let parent = try #require(
      template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map {
        String(cString: $0)
      })
    defer { rmdir(parent) }
    let directory = parent + "/state"
    let socket = try ControlSocket(path: directory + "/xbq0.sock")
    defer {
      socket.close()
      rmdir(directory)
    }
    var status = stat()
    try #require(stat(directory, &status) == 0)
    #expect(status.st_mode & 0o777 == StateDirectory.directoryMode)
    #expect(status.st_uid == getuid())
  }
}
