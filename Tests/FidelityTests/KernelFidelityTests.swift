import BPF
import Engine
import Foundation
import Inspection
import Kernel
import TestSupport
import Testing

/// The engine against the kernel: every bundled sample program runs over
/// the same 2,000 frames in both, one `BPF_PROG_TEST_RUN` per frame, from
/// the same initial maps, and must give the same verdict and the same
/// output bytes for every frame, and leave the same map contents.
///
/// Both worlds see `ingress_ifindex` = a veth with four receive queues and
/// `rx_queue_index` = frame number mod 4. Per-CPU maps are compared CPU by
/// CPU: the thread is pinned, so every test run executes on one CPU (see
/// ``onOneProcessor(_:)``), and the engine runs with that processor id and
/// the kernel's number of possible CPUs.
///
/// What the kernel's test run does not expose is not compared: the
/// redirect target (test runs return XDP_REDIRECT without acting on it or
/// checking the device) and `trace_printk` output. No sample reads the
/// clock or the random generator.
@Suite(
  "Engine vs kernel fidelity", .serialized,
  .enabled(if: KernelAccess.available, KernelAccess.comment))
struct KernelFidelityTests {
  static let frameCount = 2_000

  /// The suite fails, not skips, when it would test nothing or less: the
  /// samples and the corpus are compiled and read, the edge cases build.
  @Test func everyInputIsCompiledAndRead() throws {
    #expect(!SampleProgram.all.isEmpty, Comment(rawValue: PackageLayout.samplesMissing))
    #expect(SampleProgram.samples.unreadable == [])
    #expect(!SampleProgram.corpus.isEmpty, Comment(rawValue: PackageLayout.corpusMissing))
    #expect(SampleProgram.corpusListing.unreadable == [])
    #expect(!(try EdgePrograms.compiled.get()).isEmpty)
  }

  @Test(
    "verdicts, output bytes and maps equal the kernel's",
    arguments: SampleProgram.all, EngineKind.allCases)
  func sampleMatchesKernel(_ sample: SampleProgram, _ engine: EngineKind) throws {
    let comparison = try expectKernelAgreement(sample, seed: 0xf1de, engine: engine)
    // The comparison means something only if the program touched its maps.
    #expect(comparison.comparedMaps == comparison.referencedMaps)
  }

  @Test(
    "helper edge cases give the kernel's return values, bytes and verdicts",
    arguments: EdgePrograms.all, EngineKind.allCases)
  func edgeCaseMatchesKernel(_ program: SampleProgram, _ engine: EngineKind) throws {
    try expectKernelAgreement(program, seed: 0xed9e, engine: engine)
  }

  /// The rewriter's corpus: the kernel's verifier accepts every program
  /// (the comparison loads it), and the engine agrees with the kernel.
  @Test(
    "corpus programs load in the kernel and match it",
    arguments: SampleProgram.corpus, EngineKind.allCases)
  func corpusMatchesKernel(_ program: SampleProgram, _ engine: EngineKind) throws {
    let comparison = try expectKernelAgreement(program, seed: 0xc0de, engine: engine)
    #expect(comparison.frames == Self.frameCount)
  }

  /// Runs `program` over generated frames in the engine and in the kernel
  /// (on one CPU, on a test device) and expects the same verdicts, bytes
  /// and maps.
  @discardableResult
  private func expectKernelAgreement(
    _ program: SampleProgram, seed: UInt64, engine: EngineKind,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> FidelityRun.Comparison {
    let device = try TestDevice.create()
    defer { device.delete() }
    let frames = fidelityFrames(count: Self.frameCount, seed: seed)
    let (cpu, comparison): (Int, FidelityRun.Comparison)
    do {
      (cpu, comparison) = try onOneProcessor { cpu in
        try FidelityRun(sample: program, device: device, cpu: cpu, engine: engine).compare(frames)
      }
    } catch let error as LoadError {
      // Some kernels withhold a helper from XDP programs (this machine's
      // 6.18 refuses bpf_xdp_adjust_meta): nothing to compare against.
      if let refusal = error.verifierLog?.split(separator: "\n").first(where: {
        $0.hasPrefix("program of this type cannot use helper")
      }) {
        let reason = "\(program.testDescription) skipped: this kernel says \"\(refusal)\""
        FileHandle.standardError.write(Data("\(reason)\n".utf8))
        try Test.cancel(Comment(rawValue: reason))
      }
      throw error
    }
    #expect(comparison.frames == Self.frameCount, sourceLocation: sourceLocation)
    #expect(
      comparison.mismatches.isEmpty,
      "\(program.testDescription) (\(engine)) on CPU \(cpu): \(comparison.mismatches.count) frames differ; first: \(comparison.mismatches.prefix(3).joined(separator: "; "))",
      sourceLocation: sourceLocation)
    #expect(
      comparison.mapDifferences.isEmpty,
      "\(program.testDescription): maps differ after the run: \(comparison.mapDifferences.prefix(5).joined(separator: "; "))",
      sourceLocation: sourceLocation)
    return comparison
  }

  @Test("the frames take every verdict of xdp_classify in the kernel")
  func framesCoverClassifier() throws {
    let sample = try #require(SampleProgram.all.first { $0.program == "xdp_classify_prog" })
    let device = try TestDevice.create()
    defer { device.delete() }
    let frames = fidelityFrames(count: Self.frameCount, seed: 0xf1de)
    let (_, comparison) = try onOneProcessor { cpu in
      try FidelityRun(sample: sample, device: device, cpu: cpu).compare(frames)
    }
    #expect(Set(comparison.kernelVerdicts) == Set(XDPAction.allCases.map(\.rawValue)))
  }
}
