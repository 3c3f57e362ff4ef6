import BPF
import Foundation
import Glibc
import Inspection
import KernelTestSupport
import Rewriter
import Testing

@testable import Deployment

/// What the console asks of Control beyond the command line's attach,
/// swap and detach: the batch form's strategy, the rewrite's instruction
/// counts, and the first XDP program of a chosen object.
@Suite struct ConsoleControlTests {
  static let samples = DeploymentTests.samples

  @Test(
    .enabled(
      if: FileManager.default.fileExists(atPath: DeploymentTests.classifier.objectPath),
      "make samples"))
  func batchSummaryCountsTheProgramAsCompiledAndItsRewrite() throws {
    let source = DeploymentTests.classifier
    let compiled = try source.compiledSpec().program.instructions.count
    for strategy in BatchStrategy.allCases {
      let summary = try source.batchSummary(BatchTrampoline(strategy: strategy))
      #expect(summary.instructionsBefore == compiled)
      #expect(summary.instructionsAfter > compiled, "the loop adds instructions")
      #expect(summary.strategy == strategy.rawValue)
    }
    // A tail call cannot be batched: a refusal naming the file, no counts.
    let tailcall = ProgramSource(
      objectPath: Self.samples + "/xdp_tailcall.o",
      programName: try BPFObject(contentsOf: Self.samples + "/xdp_tailcall.o").programNames[0])
    #expect {
      _ = try tailcall.batchSummary(BatchTrampoline())
    } throws: { error in
      "\(error)".contains("xdp_tailcall.o") && "\(error)".contains("has no batch form")
    }
  }

  @Test(
    .enabled(
      if: FileManager.default.fileExists(atPath: DeploymentTests.dropper.objectPath),
      "make samples"))
  func firstXDPProgramOfAnObject() throws {
    let object = Self.samples + "/xdp1.o"
    let first = try ProgramSource.firstXDPProgram(in: object)
    #expect(first.objectPath == object)
    let entries = try BPFObject(contentsOf: object).programEntries
    #expect(entries.first(where: \.isXDP)?.name == first.programName)
    #expect(throws: ProgramSourceError.self) {
      _ = try ProgramSource.firstXDPProgram(in: Self.samples + "/no-such-object.o")
    }
  }

  @Test func recordWithoutAStrategyUsesTheRewritersDefault() throws {
    var record = AttachmentRecord(
      interface: "x", object: "/o.o", program: "p", form: .perPacket, attachMode: .native,
      programID: 1)
    #expect(record.strategy == BatchTrampoline().strategy)
    #expect(record.bound == BatchTrampoline().bound)
    record.strategy = .shift
    record.bound = .count
    #expect(record.batchTrampoline.strategy == .shift)
    #expect(record.batchTrampoline.bound == .count)

    // An old record: the form under "mode", no strategy or bound.
    let old = """
      {"attach_mode":"native","interface":"x","mode":"per-packet","object":"/o.o",\
      "program":"p","program_id":1}
      """
    let decoded = try JSONCoding.decoder().decode(AttachmentRecord.self, from: Data(old.utf8))
    #expect(decoded.form == .perPacket)
    #expect(decoded.strategy == BatchTrampoline().strategy)
    #expect(decoded.bound == BatchTrampoline().bound)
    // Written back, the form has a key of its own.
    let written = try JSONSerialization.jsonObject(with: JSONCoding.encoder().encode(record))
    let keys = try #require(written as? [String: Any]).keys
    #expect(Set(keys).isSuperset(of: ["form", "attach_mode", "strategy", "bound"]))
    #expect(!keys.contains("mode"))
    // An unknown strategy is refused, not replaced by a guess.
    let unknown = old.replacingOccurrences(
      of: "\"mode\"", with: "\"strategy\":\"sideways\",\"mode\"")
    #expect(throws: DecodingError.self) {
      try JSONCoding.decoder().decode(AttachmentRecord.self, from: Data(unknown.utf8))
    }
  }
}

/// The console's strategy key on a real attachment: the record changes,
/// the kernel's program does not, and swap still refuses on a stock kernel.
@Suite(.serialized, .enabled(if: KernelAccess.available, KernelAccess.comment))
struct StrategyCycleTests {
  @Test(
    .enabled(
      if: FileManager.default.fileExists(atPath: DeploymentTests.dropper.objectPath),
      "make samples"))
  func cyclingTheStrategyChangesOnlyTheRecord() throws {
    let demo = try DeploymentTests.testDemo()
    defer { demo.down() }
    _ = try demo.up(object: DeploymentTests.classifier.objectPath, generatorCommand: nil)
    let deployment = ProgramDeployment(state: demo.state)
    let interface = demo.veth.name
    let (attachment, before) = try deployment.current(interface: interface)
    let initial = try #require(before)
    let programID = try attachment.program().info().id

    var seen = [initial.strategy]
    for _ in BatchStrategy.allCases {
      let record = try deployment.cycleStrategy(interface: interface)
      #expect(record.strategy != seen.last)
      #expect(demo.state.record(interface: interface)?.strategy == record.strategy)
      seen.append(record.strategy)
    }
    #expect(seen.first == seen.last, "cycling comes back round")
    #expect(Set(seen).count == BatchStrategy.allCases.count)
    #expect(try deployment.current(interface: interface).0.program().info().id == programID)

    // A replacement keeps the operator's choice.
    try deployment.setStrategy(.shift, interface: interface)
    try deployment.attach(DeploymentTests.dropper, to: interface, mode: .native)
    #expect(demo.state.record(interface: interface)?.strategy == .shift)

    if !(try BatchKernelSupport.probe()).isBatchCapable {
      // The kernel's part refuses (the facade would move the interface to
      // the software datapath instead).
      #expect {
        try KernelDeployment(state: demo.state).swap(interface: interface)
      } throws: { "\($0)".hasPrefix("batch not available") }
      #expect(demo.state.record(interface: interface)?.form == .perPacket)
    }
  }
}
