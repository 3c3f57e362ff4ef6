import Foundation
import Glibc
import TestSupport
import Testing

/// `bench`'s datapath section through the built command line: its rows
/// and keys on a veth pair, its skip without root, its options.
@Suite(
  .serialized,
  .enabled(
    if: DatapathAccess.available && BuiltXDPBatch.url != nil,
    Comment(rawValue: DatapathAccess.unavailableReason ?? BuiltXDPBatch.missing)))
struct BenchDatapathTests {
  static let samples = URL(fileURLWithPath: PackageLayout.sample("xdp1"))
    .deletingLastPathComponent().path

  static func section(_ result: ProcessResult) throws -> [String: Any] {
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    return try #require(document["datapath"] as? [String: Any])
  }

  @Test func measuresEveryRowOnAVethPair() throws {
    let result = try BuiltXDPBatch.run([
      "bench", "--only-datapath", "--datapath-seconds", "0.3", "--datapath-batches", "8",
      "--datapath-rounds", "3", "--json", "--samples", Self.samples,
    ])
    try #require(result.status == 0, "\(result.errors)")
    let section = try Self.section(result)
    #expect(section["skipped"] == nil, "\(section["skipped"] ?? "")")
    let rows = try #require(section["rows"] as? [[String: Any]])
    #expect(
      rows.map { $0["kind"] as? String } == ["kernel", "bare", "bare", "bare"]
        + Array(
          repeating: "software", count: 16))
    func number(_ row: [String: Any], _ key: String) -> Double? {
      (row[key] as? NSNumber)?.doubleValue
    }
    for row in rows {
      let offered = try #require(number(row, "offered_mpps"), "\(row)")
      let received = try #require(number(row, "received_mpps"), "\(row)")
      let acted = try #require(number(row, "acted_mpps"), "\(row)")
      #expect(acted > 0, "\(row)")
      // Nothing acts on a frame XDP did not see, nor sees one not offered.
      #expect(acted <= received * 1.000_001 && received <= offered * 1.000_001, "\(row)")
      #expect(row["generator_bound"] as? Bool == (offered - received < 0.01 * offered), "\(row)")
    }
    // The kernel row is compared with the recycle loop measured at the
    // section's start: two rows of the document, one ratio.
    let kernel = try #require(rows.first)
    let recycle = try #require(
      rows.first { $0["kind"] as? String == "bare" && $0["form"] as? String == "recycle" })
    let kernelRatio = try #require(number(kernel, "ratio"))
    let expected =
      try #require(number(kernel, "acted_mpps")) / (try #require(number(recycle, "acted_mpps")))
    #expect(abs(kernelRatio - expected) < 1e-9 * max(1, expected), "\(kernel) against \(recycle)")
    // The bare loops time the span the datapath's path ns covers.
    // Each at the frames per RX batch it saw.
    for row in rows where row["kind"] as? String == "bare" {
      #expect((number(row, "datapath_ns_per_packet") ?? 0) > 0, "\(row)")
      #expect((number(row, "frames_per_batch") ?? 0) >= 1, "\(row)")
    }
    #expect(
      rows.filter { $0["kind"] as? String == "bare" }.map { $0["form"] as? String }
        == ["recycle", "send-back", "mix"])
    // xdp_classify against the loop with its TX share of the same traffic,
    // xdp_tx against send-back, xdp1 against recycle; both sides' frames
    // per RX batch beside the capacity.
    for row in rows where row["kind"] as? String == "software" {
      let expected =
        switch row["program"] as? String {
        case "xdp_classify_prog": "mix"
        case "xdp_tx": "send-back"
        default: "recycle"
        }
      #expect(row["reference"] as? String == expected, "\(row)")
      #expect((number(row, "frames_per_batch") ?? 0) >= 1, "\(row)")
      #expect((number(row, "reference_frames_per_batch") ?? 0) >= 1, "\(row)")
      // Three rounds of 0.1 s, each its bare loop then the datapath; the
      // row is the round at the median ratio, and its matched ratio is
      // that round's.
      let rounds = try #require(row["capacity_ratio_rounds"] as? [Double], "\(row)")
      #expect(rounds.count == 3, "\(row)")
      let capacity = try #require(number(row, "capacity_ratio"), "\(row)")
      #expect(capacity == rounds.sorted()[1], "\(row)")
      #expect((number(row, "seconds") ?? 0) < 0.25, "\(row)")
      if let matched = row["matched_capacity_ratio_rounds"] as? [Double] {
        let round = try #require(rounds.firstIndex(of: capacity))
        #expect(number(row, "matched_capacity_ratio") == matched[round], "\(row)")
      } else {
        #expect(row["program"] as? String == "xdp_tx", "\(row)")
      }
    }
    // The bare rows of the section's start are one window each.
    for row in rows where row["kind"] as? String != "software" {
      #expect(row["capacity_ratio_rounds"] == nil, "\(row)")
      #expect((number(row, "seconds") ?? 0) >= 0.3, "\(row)")
    }
    let goals = try #require(section["goals"] as? [String: Any])
    let capacities = try #require(goals["unpaced_capacity_over_bare"] as? [String: Double])
    let paced = try #require(goals["paced_capacity_over_bare"] as? [String: [String: Double]])
    // The goals read at the paced size: 8 frames an RX batch here.
    #expect(goals["goal_frames_per_batch"] as? Int == 8)
    #expect(goals["capacity_over_bare"] as? [String: Double] == paced["8"])
    #expect(paced.keys.sorted() == ["8"])
    // xdp1, xdp_tx and xdp_classify in both forms, each beside its bare
    // loop, both taking 8 frames an RX batch (at most 8: unpaced, a
    // batch takes up to 64; fewer than 7 on average: the pacing did not
    // wait for them), per frame and per batch.
    let pacedRows = rows.filter { $0["paced_frames"] != nil }
    #expect(
      pacedRows.map { "\($0["program"] as? String ?? "") \($0["form"] as? String ?? "")" }
        == [
          "xdp_prog1 per-packet", "xdp_prog1 batch", "xdp_tx per-packet", "xdp_tx batch",
          "xdp_classify_prog per-packet", "xdp_classify_prog batch",
        ])
    for row in pacedRows {
      #expect(row["paced_frames"] as? Int == 8, "\(row)")
      for key in ["frames_per_batch", "reference_frames_per_batch"] {
        let frames = try #require(number(row, key), "\(row)")
        #expect(frames >= 7 && frames <= 8, "\(key): \(row)")
      }
      let perBatch = try #require(number(row, "datapath_ns_per_batch"), "\(row)")
      let perFrame = try #require(number(row, "datapath_ns_per_packet"), "\(row)")
      let frames = try #require(number(row, "frames_per_batch"))
      #expect(abs(perBatch - perFrame * frames) < 1e-6 * perBatch, "\(row)")
      let reference = try #require(number(row, "reference_ns_per_batch"), "\(row)")
      #expect(reference > 0, "\(row)")
      let key = "\(row["program"] as? String ?? "") \(row["form"] as? String ?? "")"
      #expect(paced["8"]?[key] == number(row, "capacity_ratio"), "\(key)")
    }
    // xdp1 and xdp_classify also against the loop that does their work
    // without the engine (read-headers, mix-sends), measured beside the
    // row and paced alike; xdp_tx against send-back alone.
    let matchedPaced = try #require(
      goals["paced_capacity_over_matched"] as? [String: [String: Double]])
    let matchedUnpaced = try #require(goals["unpaced_capacity_over_matched"] as? [String: Double])
    #expect(goals["capacity_over_matched"] as? [String: Double] == matchedPaced["8"])
    let references = try #require(goals["references"] as? [String: [String: String]])
    #expect(
      references == [
        "capacity_over_bare": [
          "xdp_prog1": "recycle", "xdp_tx": "send-back", "xdp_classify_prog": "mix",
        ],
        "capacity_over_matched": ["xdp_prog1": "read-headers", "xdp_classify_prog": "mix-sends"],
      ])
    for row in rows where row["kind"] as? String == "software" {
      let program = row["program"] as? String
      let expected: String? =
        switch program {
        case "xdp_prog1": "read-headers"
        case "xdp_classify_prog": "mix-sends"
        default: nil
        }
      #expect(row["matched_reference"] as? String == expected, "\(row)")
      var key = "\(program ?? "") \(row["form"] as? String ?? "")"
      if row["group_actions"] as? Bool == true { key += " grouped" }
      if let engine = row["engine"] as? String, engine != "jit" { key += " \(engine)" }
      let figure =
        row["paced_frames"] == nil ? matchedUnpaced[key] : matchedPaced["8"]?[key]
      guard expected != nil else {
        #expect(row["matched_capacity_ratio"] == nil && figure == nil, "\(row)")
        continue
      }
      let matched = try #require(number(row, "matched_reference_ns_per_packet"), "\(row)")
      let own = try #require(number(row, "datapath_ns_per_packet"), "\(row)")
      let capacity = try #require(number(row, "matched_capacity_ratio"), "\(row)")
      #expect(abs(capacity - matched / own) < 1e-9 * max(1, capacity), "\(row)")
      #expect(figure == capacity, "\(key)")
      #expect((number(row, "matched_reference_acted_mpps") ?? 0) > 0, "\(row)")
      #expect((number(row, "matched_reference_frames_per_batch") ?? 0) >= 1, "\(row)")
    }
    let rates = try #require(goals["rate_over_bare"] as? [String: Double])
    let bound = try #require(goals["generator_bound"] as? [String])
    for row in rows where row["kind"] as? String == "software" && row["paced_frames"] == nil {
      // Each software row has the bare loop measured right before it.
      #expect((number(row, "reference_acted_mpps") ?? 0) > 0, "\(row)")
      #expect(number(row, "ratio") != nil, "\(row)")
      // Capacity: the reference's ns per frame over the row's, in the goals
      // under the row's key; the rate ratio only where the receiver limited.
      let reference = try #require(number(row, "reference_ns_per_packet"), "\(row)")
      let own = try #require(number(row, "datapath_ns_per_packet"), "\(row)")
      let capacity = try #require(number(row, "capacity_ratio"), "\(row)")
      #expect(abs(capacity - reference / own) < 1e-9 * max(1, capacity), "\(row)")
      var key = "\(row["program"] as? String ?? "") \(row["form"] as? String ?? "")"
      if row["group_actions"] as? Bool == true { key += " grouped" }
      if let engine = row["engine"] as? String, engine != "jit" { key += " \(engine)" }
      #expect(capacities[key] == capacity, "\(key) in \(capacities)")
      let generatorBound = row["generator_bound"] as? Bool == true
      #expect(bound.contains(key) == generatorBound, "\(key) in \(bound)")
      #expect(rates[key] == (generatorBound ? nil : number(row, "ratio")), "\(key) in \(rates)")
      // The program's time is part of the whole datapath's.
      let program = try #require(number(row, "program_ns_per_packet"), "\(row)")
      let datapath = try #require(number(row, "datapath_ns_per_packet"), "\(row)")
      #expect(program > 0 && program <= datapath, "\(row)")
      // The verdicts counted add up to the frames acted on.
      let actions = try #require(row["actions"] as? [String: Int], "\(row)")
      let seconds = try #require(number(row, "seconds"))
      let fromActions = Double(actions.values.reduce(0, +)) / seconds / 1e6
      let acted = try #require(number(row, "acted_mpps"))
      #expect(abs(fromActions - acted) <= 0.01 * acted, "\(row)")
    }
    let classify = rows.filter {
      $0["program"] as? String == "xdp_classify_prog" && $0["paced_frames"] == nil
    }
    #expect(classify.count == 4)
    for row in classify {
      let actions = try #require(row["actions"] as? [String: Any])
      // All five verdicts; the REDIRECTs (to loopback) as redirect errors.
      #expect(actions.count == 5, "all five verdicts: \(actions)")
      #expect(actions["redirect"] == nil && actions["redirect_error"] != nil, "\(actions)")
    }
    #expect(classify.filter { $0["group_actions"] as? Bool == true }.count == 2)
    let transmit = rows.filter { $0["program"] as? String == "xdp_tx" }
    #expect(transmit.allSatisfy { $0["reference"] as? String == "send-back" })
    #expect(rows.filter { $0["engine"] as? String == "interpreter" }.count == 2)
    try Self.checkMapCosts(section)
    let machine = try #require(section["machine"] as? [String: Any])
    #expect((machine["processors"] as? Int ?? 0) > 0)
    // The section names its veth pair, namespace and state directory,
    // and all are gone (other runs' pairs may be up at the same time).
    let network = try #require(section["network"] as? [String: String])
    let interface = try #require(network["interface"])
    let namespace = try #require(network["namespace"])
    let state = try #require(network["state_directory"])
    #expect(interface.hasPrefix("xbb") && network["peer"]?.hasPrefix("xbb") == true, "\(network)")
    #expect(
      !FileManager.default.fileExists(atPath: "/sys/class/net/" + interface),
      "left behind: \(interface)")
    let namespaces = try runProcess(URL(fileURLWithPath: DatapathAccess.ip), ["netns", "list"])
    #expect(
      !namespaces.output.split(separator: "\n").contains {
        $0.hasPrefix(namespace + " ") || $0 == namespace
      },
      "left behind: \(namespaces.output)")
    #expect(!FileManager.default.fileExists(atPath: state), "left behind: \(state)")
  }

  /// The maps part: per sample, its maps and how they are shared, own
  /// and shared rows alternately, the exchanges only where maps are
  /// exchanged or read, the ratio from the rows.
  static func checkMapCosts(_ section: [String: Any]) throws {
    let costs = try #require(section["maps"] as? [[String: Any]])
    #expect(
      costs.map { $0["program"] as? String }
        == ["xdp_prog1", "xdp_redirect_map_prog", "xdp_classify_prog", "xdp_stack_helper_prog"])
    let maps = costs.map { ($0["maps"] as? [String]) ?? [] }
    #expect(
      maps == [
        ["rxcnt: percpu_array, exchanged"],
        ["forwarded: percpu_array, exchanged", "tx_port: devmap, read"],
        ["redirect_ifindex: array, mapped"], ["buckets: hash, exchanged"],
      ])
    func number(_ row: [String: Any], _ key: String) -> Double? {
      (row[key] as? NSNumber)?.doubleValue
    }
    for (index, cost) in costs.enumerated() {
      let rows = try #require(cost["rows"] as? [[String: Any]])
      #expect(rows.map { $0["shared_maps"] as? Bool } == [false, true, true, false], "\(cost)")
      for row in rows {
        let shared = row["shared_maps"] as? Bool == true
        let exchanges = (row["exchanges"] as? NSNumber)?.intValue ?? 0
        // A mapped array needs no exchange; own maps none but the
        // redirect maps' reads (xdp_redirect_map's DEVMAP).
        let exchanging = index == 1 || (shared && index != 2)
        #expect((exchanges > 0) == exchanging, "\(cost["program"] ?? ""): \(row)")
        #expect((number(row, "exchange_microseconds") ?? 0 > 0) == exchanging, "\(row)")
      }
      if index == 1 {
        // The DEVMAP filled with loopback: every frame a REDIRECT that
        // cannot leave (loopback takes no redirected frame, as in the
        // kernel), with private and shared maps alike.
        let acted = rows.compactMap { $0["actions"] as? [String: Int] }.filter { !$0.isEmpty }
        #expect(
          !acted.isEmpty && acted.allSatisfy { $0.keys.sorted() == ["redirect_error"] }, "\(rows)")
      }
      guard rows.allSatisfy({ number($0, "datapath_ns_per_packet") != nil }) else {
        // A row in which the loaded machine sent nothing has no time: no ratio.
        #expect(cost["ratio"] == nil, "\(cost)")
        continue
      }
      let own = rows.filter { $0["shared_maps"] as? Bool == false }.compactMap {
        number($0, "datapath_ns_per_packet")
      }
      let ownMean = own.reduce(0, +) / Double(max(1, own.count))
      let ratio = try #require(number(cost, "ratio"), "\(cost)")
      let sharedCost = try #require(number(cost, "shared_ns_per_packet"))
      #expect(own.count == 2 && abs(ratio - sharedCost / ownMean) < 1e-9 * max(1, ratio), "\(cost)")
    }
  }

  @Test func skipsTheSectionWithTheReasonWithoutRoot() throws {
    let result = try BuiltXDPBatch.run(
      ["bench", "--only-datapath", "--json", "--samples", Self.samples], asNobody: true)
    try #require(result.status == 0, "\(result.errors)")
    let section = try Self.section(result)
    #expect((section["skipped"] as? String)?.contains("needs root") == true)
    #expect((section["rows"] as? [Any])?.isEmpty == true)
  }

  @Test func skipAndOnlyExcludeEachOther() throws {
    let result = try BuiltXDPBatch.run(["bench", "--skip-datapath", "--only-datapath"])
    #expect(result.status == 2, "\(result.errors)")
  }

  @Test func roundsOutsideOneToFifteenAreRefused() throws {
    for rounds in ["0", "16"] {
      let result = try BuiltXDPBatch.run(["bench", "--only-datapath", "--datapath-rounds", rounds])
      #expect(result.status == 2, "\(result.errors)")
      #expect(result.errors.contains("--datapath-rounds takes 1 to 15 rounds"), "\(result.errors)")
    }
  }
}
