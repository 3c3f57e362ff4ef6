import Deployment
import Foundation
import KernelTestSupport
import TestSupport
import Testing

@testable import Lab

/// Issue 22: `bench` gives the kernel's ns per packet net of the test-run
/// loop, measured in the same run with the same frames and repeat count.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct KernelBenchTests {
  let bench = KernelBench(repetitions: 2_000, netRounds: 3)

  @Test func theTestRunLoopCostsLessThanAProgramThatDoesWork() throws {
    // xdp_stack_helper calls helpers and walks its stack per packet: the
    // loop alone (the empty program, same rounds) must cost less, and the
    // net figure is the median of the rounds' differences.
    let source = ProgramSource(
      objectPath: PackageLayout.sample("xdp_stack_helper"), programName: "xdp_stack_helper_prog")
    let figure = try #require(try bench.netFigure(source))
    #expect(figure.net.rounds == 3 && figure.empty.rounds == 3 && figure.gross.rounds == 3)
    #expect(figure.empty.median > 0)
    #expect(figure.empty.median < figure.gross.median, "\(figure)")
    #expect(figure.net.median > 0, "\(figure)")
    // The JIT's net, timed in the same rounds, beside it.
    let jit = try #require(figure.jitNet)
    #expect(jit.rounds == 3 && jit.median > 0, "\(jit)")
  }

  @Test func rowsTakeTheMediansOfTheirRounds() throws {
    let sources = [("xdp1", "xdp_prog1"), ("xdp_tx", "xdp_tx")].map {
      ProgramSource(objectPath: PackageLayout.sample($0.0), programName: $0.1)
    }
    var rows = sources.map { SampleFigures(object: $0.objectPath, program: $0.programName) }
    SampleFigures.addKernel(to: &rows, sources: sources, bench: bench, live: false)
    for row in rows {
      #expect(row.notes.isEmpty, "\(row.notes)")
      let rounds = try #require(row.kernelRounds)
      #expect(row.kernelNanosecondsPerPacket == rounds.gross.median)
      #expect(row.kernelNetNanosecondsPerPacket == rounds.net.median)
      #expect(rounds.net.rounds == 3)
    }
  }
}
