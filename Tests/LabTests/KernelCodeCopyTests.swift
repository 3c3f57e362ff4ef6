import BPF
import Deployment
import Foundation
import Frames
import Kernel
import KernelTestSupport
import TestSupport
import Testing

@testable import Lab

/// Issue 22: the kernel's own JIT code, copied into this process and
/// called by a driver like the engine's JIT, gives the like-with-like
/// kernel figure (``KernelCodeCopy``).
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct KernelCodeCopyTests {
  static func source(_ object: String, _ program: String) -> ProgramSource {
    ProgramSource(objectPath: PackageLayout.sample(object), programName: program)
  }

  /// The sample loaded into the kernel, and the copy of its code.
  static func copy(_ source: ProgramSource) throws -> (ProgramLoader.Loaded, KernelCodeCopy) {
    let spec = try source.compiledSpec()
    let loaded = try spec.load()
    return (
      loaded, try KernelCodeCopy(program: loaded.program, instructions: spec.program.instructions)
    )
  }

  static let frames = TrafficMix.classifier().frames.prefix(10).map(\.bytes)

  @Test func xdpTxsCopySwapsTheMACsAndReturnsTX() throws {
    let (loaded, copy) = try Self.copy(Self.source("xdp_tx", "xdp_tx"))
    let frame = Self.frames[0]
    let (verdict, after) = copy.run(frame)
    #expect(verdict == XDPAction.tx.rawValue)
    #expect(Array(after[0..<6]) == Array(frame[6..<12]))
    #expect(Array(after[6..<12]) == Array(frame[0..<6]))
    #expect(Array(after[12...]) == Array(frame[12...]))
    #expect(frame[0..<6] != frame[6..<12])
    // A frame shorter than an Ethernet header: XDP_DROP, untouched.
    let short = copy.run([1, 2, 3, 4, 5, 6, 7, 8])
    #expect(short.verdict == XDPAction.drop.rawValue && short.frame == [1, 2, 3, 4, 5, 6, 7, 8])
    withExtendedLifetime(loaded) {}
  }

  /// The copy's verdict on each frame is the kernel's test run's, and so
  /// is the frame it leaves.
  @Test(arguments: [("xdp_stack", "xdp_stack_prog"), ("xdp_calls", "xdp_calls_prog")])
  func theCopyReturnsWhatTheKernelsTestRunReturns(object: String, program: String) throws {
    let (loaded, copy) = try Self.copy(Self.source(object, program))
    var verdicts: Set<UInt32> = []
    // Truncated frames too (the test run takes 14 bytes at least).
    for frame in Self.frames + [14, 20, 34].map({ Array(Self.frames[0].prefix($0)) }) {
      let kernel = try TestRun(frame: frame).run(loaded.program)
      let ours = copy.run(frame)
      #expect(ours.verdict == kernel.returnValue, "\(object) on \(frame.count) bytes")
      #expect(ours.frame == kernel.frame)
      verdicts.insert(ours.verdict)
    }
    // The frames take more than one path through the program.
    #expect(verdicts.count > 1, "\(verdicts)")
  }

  @Test func programsThatReachIntoTheKernelAreRefusedWithTheirReason() throws {
    func refusal(_ source: ProgramSource) throws -> KernelCodeRefusal? {
      do {
        _ = try Self.copy(source)
        return nil
      } catch let refusal as KernelCodeRefusal {
        return refusal
      }
    }
    #expect(try refusal(Self.source("xdp_tailcall", "xdp_tailcall_prog")) == .tailCall)
    let helper = try refusal(Self.source("xdp_stack_helper", "xdp_stack_helper_prog"))
    guard case .helperCall(let name) = helper else {
      Issue.record("\(String(describing: helper))")
      return
    }
    #expect(!name.hasPrefix("#") && "\(helper!)".contains(name), "\(name)")
  }

  @Test func theNetFigureCarriesTheKernelCodesRoundsForXdpTx() throws {
    let bench = KernelBench(repetitions: 2_000, netRounds: 3)
    let figure = try #require(try bench.netFigure(Self.source("xdp_tx", "xdp_tx")))
    #expect(figure.kernelCodeRefusal == nil)
    let net = try #require(figure.kernelCodeNet)
    let gross = try #require(figure.kernelCodeGross)
    let empty = try #require(figure.kernelCodeEmpty)
    #expect(net.rounds == 3 && gross.rounds == 3 && empty.rounds == 3)
    #expect(gross.median > 0 && empty.median > 0)
    // A helper-calling sample's rounds carry the reason instead.
    let helper = try #require(
      try bench.netFigure(Self.source("xdp_stack_helper", "xdp_stack_helper_prog")))
    #expect(helper.kernelCodeNet == nil)
    #expect(helper.kernelCodeRefusal?.contains("helper") == true)
  }
}

/// What the copy refuses, decided from the instructions alone, and where
/// its figures go.
struct KernelCodeRefusalTests {
  /// The rounds of the kernel's code give `kernel_rounds.kernel_code_net`
  /// (per round the program less the empty program), and the engines
  /// table takes its median as `kernel_code_net_ns_per_packet`.
  @Test func theKernelCodesRoundsReachTheRowAndTheEnginesTable() throws {
    var figure = try #require(
      KernelNetFigure(
        program: [40, 41, 60], empty: [36, 36.5, 54], kernelCodeProgram: [9, 9.5, 13],
        kernelCodeEmpty: [1.5, 1.5, 2.5]))
    #expect(figure.kernelCodeNet?.median == 8)
    #expect(figure.kernelCodeGross?.median == 9.5 && figure.kernelCodeEmpty?.median == 1.5)
    #expect(
      KernelNetFigure(
        program: [40], empty: [36], kernelCodeProgram: [9, 9], kernelCodeEmpty: [2, 2])
        == nil)
    var row = SampleFigures(object: "a.o", program: "a")
    row.takeKernel(figure)
    let object = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(row)) as? [String: Any])
    let rounds = try #require(object["kernel_rounds"] as? [String: Any])
    #expect((rounds["kernel_code_net"] as? [String: Any])?["median"] as? Double == 8)
    var engines = KernelNetRoundsTests.noSamples
    engines.take(samples: [row], batching: [])
    #expect(engines.kernelCodeNetNanosecondsPerPacket == ["a.o:a": 8])
    // Refused: no figure, the reason under `kernel_code_refusal`.
    figure.kernelCodeNet = nil
    figure.kernelCodeRefusal = KernelCodeRefusal.tailCall.description
    row.takeKernel(figure)
    let refused = try #require(
      try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(row)) as? [String: Any])
    let refusedRounds = try #require(refused["kernel_rounds"] as? [String: Any])
    #expect(refusedRounds["kernel_code_refusal"] as? String == "it tail-calls (bpf_tail_call)")
    engines.take(samples: [row], batching: [])
    #expect(engines.kernelCodeNetNanosecondsPerPacket.isEmpty)
  }

  @Test func mapsContextFieldsAndHelpersAreRefusedPacketLoadsAreNot() {
    let map = Instruction.loadImmediate64(.r1, 0, kind: .mapByFD)
    #expect(
      KernelCodeRefusal.first(in: map + [.move(.r0, immediate: 2), .exit])
        == .mapReference(instruction: 0))
    // r6 = r1; r2 = *(u32 *)(r6 + 16): rx_queue_index.
    let queue: [Instruction] = [
      .move(.r6, .r1), .load(.word, .r2, from: .r6, offset: 16), .move(.r0, immediate: 2), .exit,
    ]
    #expect(KernelCodeRefusal.first(in: queue) == .contextField("rx_queue_index"))
    // r2 = data; r3 = *(u32 *)(r2 + 12): a packet load at a field's offset.
    let packet: [Instruction] = [
      .load(.word, .r2, from: .r1, offset: 0), .load(.word, .r3, from: .r2, offset: 12),
      .move(.r0, immediate: 2), .exit,
    ]
    #expect(KernelCodeRefusal.first(in: packet) == nil)
    // The context spilled and filled into another register.
    let spilled: [Instruction] = [
      .store(.doubleWord, .r1, to: .r10, offset: -8),
      .load(.doubleWord, .r7, from: .r10, offset: -8),
      .load(.word, .r2, from: .r7, offset: 12), .move(.r0, immediate: 2), .exit,
    ]
    #expect(KernelCodeRefusal.first(in: spilled) == .contextField("ingress_ifindex"))
    let helper: [Instruction] = [
      Instruction(opcode: 0x85, immediate: 7), .exit,
    ]
    #expect(KernelCodeRefusal.first(in: helper) == .helperCall("get_prandom_u32"))
  }

  /// Calls to the program's own functions are relinked to the copy and
  /// jumps to a return thunk become `ret`; a jump elsewhere is refused.
  /// A kernel that tracks call depth for retbleed emits per-CPU updates
  /// through `%gs` into every program: its code is refused, by the line
  /// the kernel states; the other mitigations' lines are not.
  @Test func callDepthTrackingIsRefusedByTheKernelsStatedMitigation() {
    #expect(KernelCodeRefusal.tracksCallDepth(retbleed: "Mitigation: Stuffing\n"))
    for line in ["Vulnerable\n", "Mitigation: Enhanced IBRS\n", "Not affected\n"] {
      #expect(!KernelCodeRefusal.tracksCallDepth(retbleed: line), "\(line)")
    }
    #expect(KernelCodeRefusal.callDepthTracking.description.contains("retbleed"))
  }

  @Test func relinkingMovesCallsAndTurnsThunkJumpsIntoReturns() throws {
    let thunk: UInt64 = 0xffff_ffff_8225_45b0
    func jump(from address: UInt64, at offset: Int, to target: UInt64, _ opcode: UInt8) -> [UInt8] {
      let distance = UInt32(truncatingIfNeeded: target &- (address &+ UInt64(offset + 5)))
      return [opcode] + (0..<4).map { UInt8(truncatingIfNeeded: distance >> (8 * $0)) }
    }
    let main: UInt64 = 0xffff_ffff_c000_1008
    let sub: UInt64 = 0xffff_ffff_c012_3430
    let mainCode =
      [0x90] + jump(from: main, at: 1, to: sub, 0xe8) + jump(from: main, at: 6, to: thunk, 0xe9)
    let subCode = [0x90, 0x90] + jump(from: sub, at: 2, to: thunk, 0xe9)
    let (image, entry) = try KernelCodeCopy.relinked(
      [
        KernelFunctionCode(address: main, bytes: mainCode),
        KernelFunctionCode(address: sub, bytes: subCode),
      ],
      thunks: [thunk: "__x86_return_thunk"], calls: 1)
    #expect(entry == 8)
    let subStart = 0x30  // past main (8 + 11 bytes), at 0x30 modulo 64 as in the kernel
    #expect(
      image.count == subStart + subCode.count && image[19..<subStart].allSatisfy { $0 == 0xcc })
    #expect(Array(image[entry + 6..<entry + 11]) == [0xc3, 0xcc, 0xcc, 0xcc, 0xcc])
    #expect(Array(image[subStart + 2..<subStart + 7]) == [0xc3, 0xcc, 0xcc, 0xcc, 0xcc])
    let call = Array(image[entry + 1..<entry + 6])
    let distance = Int32(subStart - (entry + 6))
    #expect(call == [0xe8] + (0..<4).map { UInt8(truncatingIfNeeded: distance >> (8 * $0)) })
    // A call the instructions do not make: refused.
    #expect(throws: KernelCodeRefusal.self) {
      try KernelCodeCopy.relinked(
        [
          KernelFunctionCode(address: main, bytes: mainCode),
          KernelFunctionCode(address: sub, bytes: subCode),
        ],
        thunks: [thunk: "__x86_return_thunk"], calls: 0)
    }
  }
}
