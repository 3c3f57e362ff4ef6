import BPF
import Datapath
import Deployment
import Engine
import Foundation
import TestSupport
import Testing

/// The engine inside the software datapath: the JIT by default on x86-64
/// (the platform's default), the interpreter when asked, and the status
/// says which one runs.
@Suite(
  .serialized,
  .enabled(if: DatapathAccess.available, Comment(rawValue: DatapathAccess.unavailableReason ?? "")))
struct DatapathEngineTests {
  static let drop = ProgramSource(
    objectPath: PackageLayout.sample("xdp1"), programName: "xdp_prog1")

  func run(engine: EngineKind?) throws -> DatapathStatus {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    var configuration = try DatapathConfiguration(interface: network.veth.name, source: Self.drop)
    if let engine { configuration.engine = engine }
    let datapath = try SoftwareDatapath.start(configuration)
    defer {
      datapath.stop()
      datapath.wait()
    }
    try network.send(DatapathNetwork.udp(port: 9), count: 64)
    #expect(eventually { datapath.status().counters.actions[.drop].packets >= 64 })
    return datapath.status()
  }

  @Test func runsThePlatformDefaultEngine() throws {
    let status = try run(engine: nil)
    #expect(status.engine == EngineKind.platformDefault)
    #if arch(x86_64)
      #expect(status.engine == .jit)
    #endif
    #expect(status.engineFallback == nil, "xdp1 compiles: \(status.engineFallback ?? "")")
    #expect(status.runningEngine == EngineKind.platformDefault)
  }

  @Test func runsTheInterpreterWhenAsked() throws {
    let status = try run(engine: .interpreter)
    #expect(status.engine == .interpreter)
    #expect(status.runningEngine == .interpreter)
    let json = String(decoding: try JSONCoding.encoder().encode(status), as: UTF8.self)
    #expect(json.contains("\"engine\":\"interpreter\""))
  }
}
