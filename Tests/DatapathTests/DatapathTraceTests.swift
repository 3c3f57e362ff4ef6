import BPF
import Datapath
import Deployment
import Engine
import Foundation
import TestSupport
import Testing

/// `xdpbatch trace IFACE`: what a program prints with `bpf_printk` on the
/// software datapath, read through the control socket (issue 23). The
/// corpus program prints "frame N len L" for every frame, N counted from 1
/// in an array map, and drops the frame.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && !PackageLayout.corpusObjects.isEmpty,
    Comment(rawValue: DatapathAccess.unavailableReason ?? PackageLayout.corpusMissing)))
struct DatapathTraceTests {
  static let source = ProgramSource(
    objectPath: PackageLayout.corpus("trace_every_frame"), programName: "trace_every_frame")

  /// The numbers a line carries ("frame N len L").
  static func parse(_ line: String) -> (number: UInt64, length: Int)? {
    let words = line.split(separator: " ")
    guard words.count == 4, words[0] == "frame", words[2] == "len",
      let number = UInt64(words[1]), let length = Int(words[3])
    else { return nil }
    return (number, length)
  }

  /// Sends `count` UDP frames and waits until the datapath counted them
  /// and no other frame came for 300 ms (the namespace's own traffic, the
  /// neighbour discovery of a new link, also runs through the program).
  static func send(
    _ count: UInt64, _ network: DatapathNetwork, _ datapath: SoftwareDatapath
  ) throws -> UInt64 {
    let before = datapath.status().counters.actions[.drop].packets
    try network.send(DatapathNetwork.udp(port: 9), count: count)
    #expect(eventually { datapath.status().counters.actions[.drop].packets >= before + count })
    var counted = datapath.status().counters.actions[.drop].packets
    while true {
      usleep(300_000)
      let now = datapath.status().counters.actions[.drop].packets
      if now == counted { return now }
      counted = now
    }
  }

  @Test func theLinesReadAreWhatTheProgramPrinted() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    let configuration = try DatapathConfiguration(interface: network.veth.name, source: Self.source)
    let datapath = try SoftwareDatapath.start(configuration)
    defer {
      datapath.stop()
      datapath.wait()
    }
    let udpLength = DatapathNetwork.udp(port: 9).bytes.count
    let counted = try Self.send(40, network, datapath)

    // Through the binary, as the operator reads them.
    let result = try BuiltXDPBatch.run(["trace", network.veth.name, "--once", "--json"])
    #expect(result.status == 0, "\(result.errors)")
    let records = try result.output.split(separator: "\n").map {
      try JSONCoding.decoder().decode(TraceRecord.self, from: Data($0.utf8))
    }
    #expect(UInt64(records.count) == counted, "one line for every frame the datapath ran")
    #expect(records.map(\.sequence) == Array(0..<UInt64(records.count)))
    let parsed = records.compactMap { Self.parse($0.line) }
    #expect(parsed.count == records.count, "\(records.prefix(3))")
    // Numbered by the program's own counter, one apart (frames the kernel
    // ran before the datapath took the queue come first).
    #expect(zip(parsed, parsed.dropFirst()).allSatisfy { $1.number == $0.number + 1 })
    #expect(parsed.filter { $0.length == udpLength }.count == 40)
    // Each line names the form that ran its frame: after its start the
    // datapath runs its batches alternately in both forms (the comparison
    // window), so the lines of each form are the frames that form ran.
    let ran = datapath.status().forms
    #expect(records.allSatisfy { $0.queue == 0 })
    #expect(UInt64(records.filter { $0.form == .perPacket }.count) == ran.perPacket.packets)
    #expect(UInt64(records.filter { $0.form == .batch }.count) == ran.batch.packets)

    // The batch form's lines say so, and continue where the others stopped.
    try datapath.swap(to: .batch)
    let next = UInt64(records.count)
    let total = try Self.send(10, network, datapath)
    let excerpt = try DatapathClient(interface: network.veth.name).trace(from: next)
    #expect(excerpt.dropped == 0)
    #expect(UInt64(excerpt.lines.count) == total - counted)
    let after = datapath.status().forms
    #expect(
      UInt64(excerpt.lines.filter { $0.form == .batch }.count)
        == after.batch.packets - ran.batch.packets)
    #expect(
      UInt64(excerpt.lines.filter { $0.form == .perPacket }.count)
        == after.perPacket.packets - ran.perPacket.packets)
    #expect(excerpt.next == total)
    #expect(excerpt.lines.first.flatMap { Self.parse($0.line) }?.number == parsed.last!.number + 1)
  }

  @Test func theDropCountIsWhatTheRingLost() throws {
    let network = try DatapathNetwork()
    defer { network.tearDown() }
    var configuration = try DatapathConfiguration(interface: network.veth.name, source: Self.source)
    configuration.traceCapacity = 4096
    let datapath = try SoftwareDatapath.start(configuration)
    defer {
      datapath.stop()
      datapath.wait()
    }
    let counted = try Self.send(300, network, datapath)

    let excerpt = try DatapathClient(interface: network.veth.name).trace()
    let kept = excerpt.lines
    let cost = kept.map { TraceLog.cost($0.line) }.reduce(0, +)
    #expect(cost <= 4096)
    #expect(cost > 4096 - TraceLog.cost("frame 1000 len 1000"), "the ring is full: \(cost) bytes")
    #expect(excerpt.dropped > 0)
    #expect(excerpt.dropped + UInt64(kept.count) == counted)
    #expect(excerpt.next == counted)
    // The newest lines, in order, ending with the last one printed.
    #expect(kept.map(\.sequence) == Array((counted - UInt64(kept.count))..<counted))
    let numbers = kept.compactMap { Self.parse($0.line)?.number }
    #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $1 == $0 + 1 })

    // The binary says how many were lost before the first line it prints.
    let result = try BuiltXDPBatch.run(["trace", network.veth.name, "--once"])
    #expect(result.status == 0, "\(result.errors)")
    #expect(result.errors.contains("\(excerpt.dropped) lines dropped"), "\(result.errors)")
    #expect(result.output.split(separator: "\n").count == kept.count)
    // Each line names the form that ran it (both run after a start).
    let first = try #require(kept.first)
    #expect(result.output.hasPrefix("queue 0 \(first.form.rawValue): \(first.line)\n"))
  }

  /// Without a software datapath there is nothing to read: the error says
  /// where the kernel datapath's lines are.
  @Test func anInterfaceWithoutADatapathIsAnError() throws {
    let result = try BuiltXDPBatch.run(["trace", "xbdnone\(getpid() % 10000)", "--once"])
    #expect(result.status == 1)
    #expect(result.errors.contains("has no software datapath running"), "\(result.errors)")
    #expect(result.errors.contains("bpftool prog tracelog"))
  }
}
