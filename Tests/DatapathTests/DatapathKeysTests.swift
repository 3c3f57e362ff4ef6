import BPF
import Datapath
import Deployment
import Foundation
import Glibc
import Inspection
import Kernel
import TestSupport
import Testing

/// The keys the software datapath added to `stats --json` and `demo status
/// --json` (docs/DESIGN.md's JSON shapes), on both datapaths: `datapath`
/// and `form` always; `socket` (the AF_XDP sockets' XDP_STATISTICS) and
/// `forms` for the software datapath only, since the kernel datapath has no
/// sockets.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct DatapathKeysTests {
  static let socketKeys: Set<String> = [
    "rx_dropped", "rx_ring_full", "fill_ring_empty", "tx_invalid",
  ]

  /// Runs the binary, which must succeed.
  static func run(_ arguments: [String]) throws {
    let result = try BuiltXDPBatch.run(arguments)
    try #require(result.status == 0, "\(arguments): \(result.errors)")
  }

  static func json(_ arguments: [String]) throws -> [String: Any] {
    let result = try BuiltXDPBatch.run(arguments)
    try #require(result.status == 0, "\(arguments): \(result.errors)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
      "\(result.output)")
  }

  /// `datapath` and `form` as expected; `socket` with its counters (and
  /// `forms`) exactly when the datapath is software.
  static func expectKeys(
    _ document: [String: Any], datapath: DatapathKind, form: Form, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(
      document["datapath"] as? String == datapath.rawValue, "\(context): \(document)",
      sourceLocation: sourceLocation)
    #expect(
      document["form"] as? String == form.rawValue, "\(context): \(document)",
      sourceLocation: sourceLocation)
  }

  static func expectSocket(
    _ stats: [String: Any], software: Bool, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    guard software else {
      #expect(stats["socket"] == nil, "\(context): no sockets", sourceLocation: sourceLocation)
      return
    }
    let socket = stats["socket"] as? [String: Any] ?? [:]
    #expect(
      Self.socketKeys.isSubset(of: Set(socket.keys)), "\(context): \(socket)",
      sourceLocation: sourceLocation)
    for key in Self.socketKeys {
      #expect(socket[key] is NSNumber, "\(context): \(key)", sourceLocation: sourceLocation)
    }
    let forms = stats["forms"] as? [String: Any] ?? [:]
    #expect(
      Set(forms.keys) == ["per-packet", "batch"], "\(context): \(forms)",
      sourceLocation: sourceLocation)
  }

  @Test func statsKeysOnBothDatapaths() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let interface = network.veth.name
    let attach = [
      "attach", interface, SoftwareDatapathTests.classify, "--program", "xdp_classify_prog",
    ]
    // Kernel, per packet.
    try Self.run(attach)
    var stats = try Self.json(["stats", interface, "--json"])
    Self.expectKeys(stats, datapath: .kernel, form: .perPacket, "kernel")
    Self.expectSocket(stats, software: false, "kernel")
    // Software, both forms.
    for form in [Form.perPacket, .batch] {
      try Self.run(attach + ["--datapath", "software", "--form", form.rawValue])
      stats = try Self.json(["stats", interface, "--json"])
      Self.expectKeys(stats, datapath: .software, form: form, "software \(form)")
      Self.expectSocket(stats, software: true, "software \(form)")
    }
    let detached = try BuiltXDPBatch.run(["detach", interface])
    #expect(detached.status == 0, "\(detached.errors)")
  }

  @Test func demoStatusKeysOnBothDatapaths() throws {
    let lock = DemoLock()
    defer { lock.release() }
    defer { _ = try? BuiltXDPBatch.run(["demo", "down"]) }
    let interface = "xdpbatch0"
    _ = try Self.json(["demo", "up", "--object", SoftwareDatapathTests.classify, "--json"])
    Self.expectKeys(
      try Self.json(["demo", "status", "--json"]), datapath: .kernel, form: .perPacket, "demo up")
    // No batch XDP in this kernel: swap moves the demo to software batch.
    let swapped = try BuiltXDPBatch.run(["swap", interface])
    try #require(swapped.status == 0, "\(swapped.errors)")
    let record = try #require(StateDirectory().record(interface: interface))
    let expected: (DatapathKind, Form) =
      record.isSoftware ? (.software, .batch) : (.kernel, .batch)
    Self.expectKeys(
      try Self.json(["demo", "status", "--json"]), datapath: expected.0, form: expected.1,
      "after swap")
    let back = try BuiltXDPBatch.run(["swap", interface])
    try #require(back.status == 0, "\(back.errors)")
    Self.expectKeys(
      try Self.json(["demo", "status", "--json"]), datapath: .kernel, form: .perPacket,
      "after the second swap")
    // demo down with the software datapath running leaves nothing of it.
    try #require(try BuiltXDPBatch.run(["swap", interface]).status == 0)
    let process = StateDirectory().record(interface: interface)?.process
    let tap = try #require(PassDeviceName.for(interface))
    let down = try BuiltXDPBatch.run(["demo", "down"])
    #expect(down.status == 0, "\(down.errors)")
    if let process { #expect(eventually { !process.isAlive }, "the datapath process stopped") }
    #expect(if_nametoindex(tap) == 0, "no TAP device")
    #expect(access(PinDirectory(interface: interface).path, F_OK) != 0, "no pins")
    #expect(access(StateDirectory().path + "/\(interface).sock", F_OK) != 0, "no control socket")
    #expect(access(StateDirectory().path + "/\(interface).log", F_OK) != 0, "no log")
    #expect(StateDirectory().record(interface: interface) == nil)
  }
}
