import CBPF
import Foundation
import Kernel
import Testing

/// libbpf's messages reach the tool's sink, never the terminal (issue 24):
/// a call libbpf refuses with a warning, made as the release build once
/// made every `bpf_xdp_query`.
@Suite(.serialized) struct LibraryMessagesTests {
  @Test func aLibbpfWarningGoesToTheRouteNotToStandardError() throws {
    let collector = LibraryMessages.Collector(verbose: false)
    LibraryMessages.route(to: collector.sink)
    defer { LibraryMessages.route(to: { _ in }) }
    // An options struct whose bytes past the fields libbpf knows are not
    // zero: libbpf refuses it and says so at warning level.
    let size = 256
    let storage = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    defer { storage.deallocate() }
    storage.initializeMemory(as: UInt8.self, repeating: 0xa5, count: size)
    storage.storeBytes(of: size, as: Int.self)
    let result = bpf_xdp_query(1, 0, storage.assumingMemoryBound(to: bpf_xdp_query_opts.self))
    #expect(result == -EINVAL)
    let messages = collector.take()
    #expect(
      messages == [
        LibraryMessages.Message(
          level: .warning, text: "libbpf: bpf_xdp_query_opts has non-zero extra bytes")
      ])
    #expect(collector.take().isEmpty, "taken once")
  }

  @Test func debugLinesAreKeptOnlyWhenVerbose() {
    let quiet = LibraryMessages.Collector(verbose: false)
    let verbose = LibraryMessages.Collector(verbose: true)
    let debug = LibraryMessages.Message(level: .debug, text: "libbpf: loading")
    let warning = LibraryMessages.Message(level: .warning, text: "libbpf: refused")
    for message in [debug, warning] {
      quiet.sink(message)
      verbose.sink(message)
    }
    #expect(quiet.take() == [warning])
    #expect(verbose.take() == [debug, warning])
  }
}
