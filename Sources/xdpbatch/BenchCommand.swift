import ArgumentParser
import BPF
import Control
import Foundation

/// `xdpbatch bench`: per sample program, the kernel's nanoseconds per
/// packet (test run with repeat) and live millions of packets per second
/// on a veth pair (native XDP). The engine's figures join these later.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure each sample program in the kernel: ns per packet and live Mpps on a veth.")

  @Option(help: "The directory of compiled samples.")
  var samples = "build/samples"

  @Option(help: "Seconds of live traffic per program (0 skips the live figure).")
  var duration = 2.0

  @Option(help: "Kernel test runs per frame of the mix.")
  var repetitions: UInt32 = 20_000

  @Flag(help: "Print one JSON document.")
  var json = false

  func validate() throws {
    guard duration >= 0 else { throw ValidationError("--duration must not be negative") }
  }

  /// One program's figures.
  struct Row: Encodable {
    var object: String
    var program: String
    var kernelNsPerPacket: Double?
    var liveMpps: Double?
    var note: String?

    enum CodingKeys: String, CodingKey {
      case object, program, note
      case kernelNsPerPacket = "kernel_ns_per_packet"
      case liveMpps = "live_mpps"
    }
  }

  func run() throws {
    let bench = KernelBench(repetitions: repetitions, liveDuration: duration)
    let sources = try programs()
    var rows = sources.map { source in
      Row(
        object: URL(fileURLWithPath: source.objectPath).lastPathComponent,
        program: source.programName)
    }
    var measurable: [Int] = []
    for (index, source) in sources.enumerated() {
      do {
        rows[index].kernelNsPerPacket = try bench.nanosecondsPerPacket(source)
        _ = try source.request()  // live runs need the counting pass
        measurable.append(index)
      } catch {
        rows[index].note = "\(error)"
      }
    }
    if duration > 0 {
      let rates = try bench.liveRates(measurable.map { sources[$0] })
      for (index, rate) in zip(measurable, rates) { rows[index].liveMpps = rate }
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      print(String(decoding: try encoder.encode(["kernel": rows]), as: UTF8.self))
    } else {
      print(Self.table(rows))
    }
  }

  /// Every XDP program of every object in the samples directory.
  func programs() throws -> [ProgramSource] {
    let files = try FileManager.default.contentsOfDirectory(atPath: samples)
      .filter { $0.hasSuffix(".o") }.sorted()
    guard !files.isEmpty else {
      throw BenchCommandError.noSamples(samples)
    }
    return try files.flatMap { file in
      let path = samples + "/" + file
      return try BPFObject(contentsOf: path).programEntries.filter(\.isXDP).map {
        ProgramSource(objectPath: path, programName: $0.name)
      }
    }
  }

  static func table(_ rows: [Row]) -> String {
    var lines = [
      "PROGRAM".padding(toLength: 44, withPad: " ", startingAt: 0) + " KERNEL ns/pkt   LIVE Mpps"
    ]
    for row in rows {
      let name = "\(row.object):\(row.program)"
      let ns = row.kernelNsPerPacket.map { String(format: "%13.1f", $0) } ?? "            -"
      let mpps = row.liveMpps.map { String(format: "%11.3f", $0) } ?? "          -"
      lines.append(
        name.padding(toLength: 44, withPad: " ", startingAt: 0) + " " + ns + " " + mpps
          + (row.note.map { "  (\($0))" } ?? ""))
    }
    return lines.joined(separator: "\n")
  }
}

/// Why the bench could not start.
enum BenchCommandError: Error, CustomStringConvertible {
  case noSamples(String)

  var description: String {
    switch self {
    case .noSamples(let directory):
      "no compiled samples in \(directory); run `make samples` or pass --samples DIR"
    }
  }
}
