import BPF
import Engine
import Foundation
import Frames
import Glibc
import Kernel
import KernelTestSupport
import Lab
import TestSupport
import Testing

@testable import Deployment

/// The demo's pieces in a namespace of the test's own: the classifier
/// sample counted in the kernel against the engine's prediction, and
/// replacement under traffic.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct DeploymentTests {
  static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../build/samples").standardizedFileURL.path
  static let classifier = ProgramSource(
    objectPath: samples + "/xdp_classify.o", programName: "xdp_classify_prog")
  static let dropper = ProgramSource(objectPath: samples + "/xdp1.o", programName: "xdp_prog1")

  /// A demo with names of its own and a private state directory.
  static func testDemo() throws -> Demo {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("xbt-state-\(suffix)")
    return Demo(
      state: StateDirectory(path: state.path), namespace: "xbt-d\(suffix)",
      interface: "xbt\(suffix)h", peer: "xbt\(suffix)p")
  }

  /// Sends `frames`, each `repeats` times in turn, and waits for them.
  static func send(_ frames: [FrameTemplate], repeats: UInt32, demo: Demo) throws -> UInt64 {
    let limit = UInt64(frames.count) * UInt64(repeats)
    let generator = TrafficGenerator.start(
      .init(
        frames: frames, interface: demo.veth.peer, namespace: demo.namespace,
        framesPerRun: repeats, limit: limit))
    let failure = generator.wait()
    #expect(failure == nil, "\(failure.map(String.init(describing:)) ?? "")")
    return generator.framesSent
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: classifier.objectPath), "make samples"))
  func kernelCountsMatchTheEngine() throws {
    let demo = try Self.testDemo()
    defer { demo.down() }
    let status = try demo.up(object: Self.classifier.objectPath, generatorCommand: nil)
    #expect(status.program == "xdp_classify_prog")
    #expect(status.generator.running == false)
    let (attachment, _) = try ProgramDeployment(state: demo.state).current(
      interface: demo.veth.name)

    let mix = TrafficMix.classifier(variants: 3)
    let repeats: UInt32 = 40
    let sent = try Self.send(mix.frames, repeats: repeats, demo: demo)
    #expect(sent == UInt64(mix.frames.count) * UInt64(repeats))
    #expect(try eventually { try attachment.counters.read().totalPackets >= sent })
    let kernel = try attachment.counters.read()
    #expect(kernel.totalPackets == sent)

    // The engine runs the program as compiled on the same frames, in the
    // order the generator sent them.
    let object = try BPFObject(contentsOf: Self.classifier.objectPath)
    let machine = try Machine(maps: object.maps)
    let runner = try PacketRunner(
      machine: machine, program: machine.prepare(object.program(named: "xdp_classify_prog")),
      form: .perPacket)
    let packets = mix.frames.flatMap { Array(repeating: $0.bytes, count: Int(repeats)) }
    let predicted = try runner.run(packets).totals
    for action in XDPAction.allCases {
      #expect(kernel[action].packets == predicted[action].packets, "\(action.name) packets")
      #expect(kernel[action].bytes == predicted[action].bytes, "\(action.name) bytes")
      #expect(kernel[action].packets > 0, "the mix gives \(action.name)")
    }
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: dropper.objectPath), "make samples"))
  func hundredReplacementsUnderTrafficLoseNothing() throws {
    let demo = try Self.testDemo()
    defer { demo.down() }
    _ = try demo.up(object: Self.classifier.objectPath, generatorCommand: nil)
    let deployment = ProgramDeployment(state: demo.state)
    let (attachment, _) = try deployment.current(interface: demo.veth.name)
    let linkID = try attachment.link.info().id
    let mapID = attachment.counters.map.id
    let generator = TrafficGenerator.start(
      .init(
        frames: TrafficMix.classifier().frames, interface: demo.veth.peer,
        namespace: demo.namespace, framesPerRun: 64, framesPerSecond: 20_000))
    var programIDs: Set<UInt32> = []
    for round in 0..<100 {
      let source = round.isMultiple(of: 2) ? Self.dropper : Self.classifier
      let record = try deployment.attach(source, to: demo.veth.name, mode: .native)
      #expect(record.program == source.programName)
      programIDs.insert(record.programID)
    }
    #expect(generator.stop() == nil)
    let sent = generator.framesSent
    #expect(sent > 0)
    #expect(programIDs.count == 100)
    #expect(try attachment.link.info().id == linkID)
    #expect(attachment.counters.map.id == mapID)
    #expect(try eventually { try attachment.counters.read().totalPackets >= sent })
    #expect(try attachment.counters.read().totalPackets == sent)
  }
}
