import BPF
import Foundation
import Rewriter
import TestSupport
import Testing

@testable import Deployment

/// An object written by `xdpbatch rewrite -o` holds a batch form; attach
/// says so plainly instead of failing in the counting pass's safety check.
@Suite(
  .enabled(
    if: FileManager.default.fileExists(atPath: PackageLayout.sample("xdp1")),
    Comment(rawValue: PackageLayout.samplesMissing)))
struct BatchObjectRefusalTests {
  @Test(arguments: BatchBound.allCases)
  func attachRefusesAnObjectThatIsAlreadyABatchForm(_ bound: BatchBound) throws {
    let object = try BPFObject(contentsOf: PackageLayout.sample("xdp1"))
    let program = try object.xdpProgram(named: "xdp_prog1")
    let batch = try BatchTrampoline(bound: bound).rewrite(program)
    let bytes = try ObjectWriter(program: batch.program, maps: object.maps).bytes()
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-batch-\(UUID().uuidString).o").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }

    let source = ProgramSource(objectPath: path, programName: "xdp_prog1")
    do {
      _ = try source.compiledSpec()
      Issue.record("\(bound): a batch form was accepted")
    } catch {
      guard case .alreadyBatch(let file, let name) = error else {
        Issue.record("\(bound): \(error)")
        return
      }
      #expect(file == path && name == "xdp_prog1")
      #expect(error.description.contains("is already a batch form"))
    }
    // The per-packet object itself is accepted.
    _ = try ProgramSource(objectPath: PackageLayout.sample("xdp1"), programName: "xdp_prog1")
      .compiledSpec()
  }
}
