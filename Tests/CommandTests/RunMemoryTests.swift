import Foundation
import TestSupport
import Testing

/// `run --packets N` made every frame before it ran the first (about 1.3 KB
/// a frame: 1 M frames took 1.29 GB, none of it charged to the memory
/// budget), and did so before it read the object (issue 23). Frames are now
/// made a chunk at a time as they run, after the object is read. Each run's
/// peak resident set is compared with a run of 1,000 frames measured in the
/// same test: 60,000 frames used to add 78 MB to it.
@Suite(.enabled(if: Command.ready, Command.missingReason))
struct RunMemoryTests {
  static let xdp1 = Command.sample("xdp1")
  /// What 60,000 frames may add to the resident set of a 1,000-frame run;
  /// holding them all added about 78 MB.
  static let allowance = 16 << 20

  static func measured(_ arguments: [String]) throws -> MeasuredProcess {
    try runMeasuringMemory(try #require(BuiltXDPBatch.url), arguments)
  }

  static func reference() throws -> Int {
    let run = try measured(["run", xdp1, "--program", "xdp_prog1", "--packets", "1000", "--json"])
    #expect(run.result.status == 0, "\(run.result.errors)")
    return run.maximumResident
  }

  @Test func generatedFramesAreMadeAsTheyRun() throws {
    let reference = try Self.reference()
    let run = try Self.measured([
      "run", Self.xdp1, "--program", "xdp_prog1", "--packets", "60000", "--json",
    ])
    #expect(run.result.status == 0, "\(run.result.errors)")
    let json = try run.result.json()
    #expect(json["packets"] as? Int == 60000)
    let actions = try #require(json["actions"] as? [String: [String: Int]])
    #expect(actions["drop"]?["packets"] == 60000, "xdp1 drops every frame")
    #expect(
      run.maximumResident - reference < Self.allowance,
      "60,000 frames: \(run.maximumResident >> 20) MiB resident, 1,000: \(reference >> 20) MiB")
  }

  @Test func theObjectIsReadBeforeAnyFrameIsMade() throws {
    let reference = try Self.reference()
    let missing = "/nonexistent-\(getpid())/prog.o"
    let run = try Self.measured(["run", missing, "--packets", "60000"])
    #expect(run.result.status == 1)
    #expect(run.result.errors.contains(missing), "\(run.result.errors)")
    #expect(
      run.maximumResident - reference < Self.allowance,
      "\(run.maximumResident >> 20) MiB resident to refuse a missing object")
  }
}
