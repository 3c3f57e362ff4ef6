import BPF
import Foundation
import Kernel
import Rewriter
import TestSupport
import Testing

@testable import Deployment

/// What `attach --form batch` loads into a kernel that runs batch
/// programs: the sample's instrumented program wrapped in the trampoline
/// for that kernel's records, loaded with `BPF_F_XDP_BATCH`; a program
/// written as a batch program (section `xdp.batch`) as written, and never
/// as a per-packet program. No kernel is involved: the interface is made
/// up, as a patched kernel's BTF would describe it.
@Suite(
  .enabled(
    if: FileManager.default.fileExists(atPath: PackageLayout.sample("xdp1")),
    Comment(rawValue: PackageLayout.samplesMissing)))
struct KernelBatchSpecTests {
  static let interface: KernelBatchInterface = {
    var layout = XDPContextLayout.engine
    layout.stride = 64
    layout.redirectTarget = nil
    return KernelBatchInterface(layout: layout, commitFunction: 99)
  }()

  @Test func theBatchFormIsTheKernelsRewriteOfTheInstrumentedProgram() throws {
    let source = ProgramSource(objectPath: PackageLayout.sample("xdp1"), programName: "xdp_prog1")
    let perPacket = try source.instrumentedSpec()
    #expect(perPacket.loadFlags == 0)
    let batch = try source.kernelBatchSpec(Self.interface, strategy: .default)
    #expect(batch.loadFlags == KernelBatchInterface.loadFlag)
    let expected = try BatchTrampoline.kernel(Self.interface, strategy: .default)
      .rewrite(perPacket.program)
    #expect(batch.program.instructions == expected.program.instructions)
    #expect(batch.program.instructions != perPacket.program.instructions)
    // Same maps, the action counters among them: the forms count alike.
    #expect(batch.maps.map(\.name) == perPacket.maps.map(\.name))
    #expect(batch.countersMapIndex == perPacket.countersMapIndex)
  }

  @Test func aProgramWrittenAsABatchProgramLoadsAsWrittenAndOnlyAsBatch() throws {
    let object = try BPFObject(contentsOf: PackageLayout.sample("xdp1"))
    var program = try object.xdpProgram(named: "xdp_prog1")
    program.sectionName = "xdp.batch"
    let bytes = try ObjectWriter(program: program, maps: object.maps).bytes()
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-written-\(UUID().uuidString).o").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }

    let source = ProgramSource(objectPath: path, programName: "xdp_prog1")
    let spec = try source.kernelBatchSpec(Self.interface, strategy: .default)
    #expect(spec.loadFlags == KernelBatchInterface.loadFlag)
    #expect(spec.program.instructions == program.instructions)
    do {
      _ = try source.instrumentedSpec()
      Issue.record("a batch program as written was taken as a per-packet program")
    } catch {
      guard case .batchAsWritten(let file, let name) = error else {
        Issue.record("\(error)")
        return
      }
      #expect(file == path && name == "xdp_prog1")
      #expect(error.description.contains("section xdp.batch"))
    }
  }
}
