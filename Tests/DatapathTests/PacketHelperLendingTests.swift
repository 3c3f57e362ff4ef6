import BPF
import Engine
import Testing

/// The datapath lends a program only its own frame per packet
/// (``LiveFrameRunner/lendsFrames``). A program that reaches another
/// record of the run (its context pointer laundered through a map, which
/// the verifier would refuse) and moves that record's packet with
/// `xdp_adjust_head` moves the bounds but not the metadata bytes of a
/// frame that is not lent: the JIT's inline helper as the engine's Swift
/// code (before, the JIT moved the bytes of the closed frame).
struct PacketHelperLendingTests {
  /// The frames' bytes (headroom included) and the run's verdicts and
  /// error in `engine`.
  static func run(_ engine: EngineKind) throws -> (bytes: [UInt8], result: String) {
    let machine = try Machine(
      maps: [FrameContainmentTests.slot], configuration: MachineConfiguration(engine: engine))
    let runner = try LiveFrameRunner(machine: machine)
    runner.lendsFrames = true
    let region = try machine.addressSpace.map(length: 2 * 4096, name: "umem")
    var frames: [LiveFrameRunner.Frame] = []
    for index in 0..<2 {
      let start = region.start + UInt32(index * 4096)
      let bytes = (0..<316).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ index) }
      machine.addressSpace.hostMemory(at: start).copyMemory(from: bytes, byteCount: bytes.count)
      frames.append(
        .init(hardStart: start, data: start + 256, length: 60, hardEnd: start + 4096 - 320))
    }
    machine.addressSpace.closePages(of: region)
    // r7 = the next record (records are 32 bytes apart): metadata of 8
    // bytes there, then its data 16 bytes down.
    let program = try machine.prepare(
      Program(
        name: "reach", sectionName: "xdp",
        instructions: FrameContainmentTests.laundering([
          .move(.r7, .r2), .add(.r7, immediate: 32),
          .move(.r1, .r7), .move(.r2, immediate: -8),
          .call(helper: HelperFunction.xdpAdjustMeta.rawValue), .move(.r8, .r0),
          .move(.r1, .r7), .move(.r2, immediate: -16),
          .call(helper: HelperFunction.xdpAdjustHead.rawValue), .arithmetic(.or, .r0, .r8),
          .add(.r0, immediate: 2), .exit,
        ])))
    frames.withUnsafeBufferPointer { runner.run(program, frames: $0, form: .perPacket) }
    var bytes: [UInt8] = []
    for frame in frames {
      let pointer = machine.addressSpace.hostMemory(at: frame.hardStart)
      bytes += [UInt8](UnsafeRawBufferPointer(start: pointer, count: 316))
    }
    let result = "\(runner.verdicts.map(\.action)) \(String(describing: runner.lastError))"
    return (bytes, result)
  }

  @Test func aFrameNotLentKeepsItsBytes() throws {
    let interpreted = try Self.run(.interpreter)
    let compiled = try Self.run(.jit)
    #expect(compiled.result == interpreted.result)
    #expect(compiled.bytes == interpreted.bytes)
    // Frame 1's bytes 232..<240 (where its metadata would have gone) are
    // as written: nothing moved.
    let frame1 = Array(compiled.bytes[316..<632])
    #expect(
      frame1[232..<240].elementsEqual((232..<240).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ 1) }))
    // Frame 0's run passes; frame 1's reaches record 2, which has no
    // frame: the engine's error, in both engines.
    #expect(interpreted.result.contains("pass, BPF.XDPAction.aborted]"), "\(interpreted.result)")
    #expect(
      interpreted.result.contains(
        "packet 1: instruction 16: bpf_xdp_adjust_meta#54: R1 is not an XDP context"))
  }
}
