import BPF
import Deployment
import Engine
import Foundation
import Glibc
import Inspection
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import Lab

/// What the inspection suites share: the built binary's `run` and
/// `--json`, the peer's frames, `map dump`'s sums, the engine's
/// prediction, the program on an interface, `capture` in the background.
protocol InspectionCommandSuite {}

extension InspectionCommandSuite {
  static var frames: UInt64 { 40 }

  static func run(_ arguments: [String]) throws -> ProcessResult {
    try BuiltXDPBatch.run(arguments)
  }

  static func json(_ arguments: [String]) throws -> [String: Any] {
    let result = try run(arguments)
    #expect(result.status == 0, "\(arguments): \(result.errors)")
    return try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
  }

  /// Sends `count` copies of the test frame from the peer to the host side.
  static func send(_ network: TestNetwork, count: UInt64 = frames) {
    let generator = TrafficGenerator.start(
      .init(
        frames: [TestNetwork.frame], interface: network.veth.peer, namespace: network.namespace,
        framesPerRun: UInt32(count), limit: count))
    let failure = generator.wait()
    #expect(failure == nil, "\(failure.map(String.init(describing:)) ?? "")")
  }

  /// The per-key sums of `map dump --json` (keys printed as JSON numbers).
  static func sums(_ interface: String, map: String) throws -> [Int: Int] {
    let document = try json(["map", "dump", interface, map, "--json"])
    let entries = try #require(document["entries"] as? [[String: Any]])
    var sums: [Int: Int] = [:]
    for entry in entries {
      guard let key = entry["key"] as? Int else { continue }
      sums[key] = (entry["sum"] as? Int) ?? (entry["value"] as? Int)
    }
    return sums
  }

  /// What the engine's run of xdp1 over the same frames leaves in `rxcnt`,
  /// per key, summed over CPUs (zero entries left out).
  static func enginePrediction(count: UInt64) throws -> [Int: Int] {
    let object = try BPFObject(contentsOf: PackageLayout.sample("xdp1"))
    let machine = try Machine(maps: object.maps)
    let program = try machine.prepare(try object.program(named: "xdp_prog1"))
    let runner = try PacketRunner(machine: machine, program: program, form: .perPacket)
    _ = try runner.run(Array(repeating: TestNetwork.frame.bytes, count: Int(count)))
    let map = try #require(machine.maps.first { $0.definition.name == "rxcnt" })
    var sums: [Int: Int] = [:]
    for key in map.keys {
      let total = (map.perProcessorValues(key: key) ?? []).reduce(0) {
        $0 + Int(BTFValueFormat.littleEndian($1[0..<8]))
      }
      if total != 0 { sums[Int(BTFValueFormat.littleEndian(key[0..<4]))] = total }
    }
    return sums
  }

  /// The kernel id of the program on `interface` (0: none).
  static func programID(_ interface: String) -> UInt32 {
    (try? DeployedProgram.on(interface).program.programID) ?? 0
  }

  /// A veth pair (``TestNetwork``) with the bundled `sample`'s `program`
  /// attached through the built binary.
  static func network(attaching sample: String, program: String) throws -> TestNetwork {
    let network = try TestNetwork()
    let attached = try run([
      "attach", network.veth.name, PackageLayout.sample(sample), "--program", program,
    ])
    guard attached.status == 0 else {
      network.tearDown()
      throw InspectionFixtureError.attach(sample: sample, errors: attached.errors)
    }
    return network
  }

  /// Runs `capture` in the background, sends frames once the capture
  /// variant is in, and returns the result; the original program must be
  /// back afterwards.
  static func capture(
    _ network: TestNetwork, file: String, extra: [String] = [], send count: UInt64 = frames,
    interrupt: Bool = false, signal: Int32 = SIGINT
  ) throws -> (status: Int32, errors: String) {
    let interface = network.veth.name
    let original = programID(interface)
    let url = try #require(BuiltXDPBatch.url)
    let process = Process()
    process.executableURL = url
    let limit = interrupt ? [] : ["--count", String(frames)]
    process.arguments = ["capture", interface, "-w", file, "--duration", "30"] + limit + extra
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    #expect(try eventually(seconds: 20) { programID(interface) != original })
    send(network, count: count)
    if interrupt {
      // What Ctrl-C (or an SSH drop: SIGHUP) sends; the capture must end
      // and put the original back.
      usleep(300_000)
      kill(process.processIdentifier, signal)
    }
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(programID(interface) == original, "the original program is back")
    return (process.terminationStatus, String(decoding: errorData, as: UTF8.self))
  }

  /// The lines `tcpdump -r` prints for `file`.
  static func tcpdumpLines(_ file: String) throws -> [Substring] {
    let result = try runProcess(URL(fileURLWithPath: "/usr/bin/tcpdump"), ["-n", "-r", file])
    #expect(result.status == 0, "\(result.errors)")
    return result.output.split(separator: "\n")
  }

}

/// A fixture that could not be made.
enum InspectionFixtureError: Error, CustomStringConvertible {
  case attach(sample: String, errors: String)

  var description: String {
    switch self {
    case .attach(let sample, let errors): "attach \(sample): \(errors)"
    }
  }
}
