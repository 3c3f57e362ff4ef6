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
  let bench = KernelBench(repetitions: 2_000)

  @Test func theTestRunLoopCostsLessThanAProgramThatDoesWork() throws {
    // xdp_stack_helper calls helpers and walks its stack per packet: the
    // loop alone must cost less, on the same frames, in the same run.
    let source = ProgramSource(
      objectPath: PackageLayout.sample("xdp_stack_helper"), programName: "xdp_stack_helper_prog")
    let loop = try bench.testRunLoopNanoseconds()
    let program = try bench.nanosecondsPerPacket(source)
    #expect(loop > 0)
    #expect(loop < program, "loop \(loop) ns, program \(program) ns")
  }

  @Test func netFiguresAreTheRawLessTheLoop() throws {
    let sources = [("xdp1", "xdp_prog1"), ("xdp_tx", "xdp_tx")].map {
      ProgramSource(objectPath: PackageLayout.sample($0.0), programName: $0.1)
    }
    var rows = sources.map { SampleFigures(object: $0.objectPath, program: $0.programName) }
    let loop = 7.5
    SampleFigures.addKernel(to: &rows, sources: sources, bench: bench, testRunLoop: loop, live: false)
    for row in rows {
      #expect(row.notes.isEmpty, "\(row.notes)")
      let raw = try #require(row.kernelNanosecondsPerPacket)
      let net = try #require(row.kernelNetNanosecondsPerPacket)
      #expect(net == max(raw - loop, 0), "\(row.program): raw \(raw), net \(net)")
    }
    SampleFigures.addKernel(to: &rows, sources: sources, bench: bench, testRunLoop: nil, live: false)
    #expect(rows.allSatisfy { $0.kernelNetNanosecondsPerPacket == nil })
  }
}
