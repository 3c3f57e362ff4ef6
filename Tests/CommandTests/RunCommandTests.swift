import Foundation
import Testing

/// Frames whose verdict under Samples/xdp_classify.bpf.c and protocol
/// count under Samples/xdp1.bpf.c follow from those programs' source.
enum CraftedFrames {
  enum Verdict: String { case aborted, drop, pass, tx, redirect }

  struct Frame {
    var bytes: [UInt8]
    /// What xdp_classify returns.
    var classify: Verdict
    /// The rxcnt key xdp1 counts it under, nil when it returns before counting.
    var protocolKey: Int?
  }

  static func ethernet(_ type: UInt16) -> [UInt8] {
    [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, UInt8(type >> 8), UInt8(type & 0xff)]
  }

  static func ipv4(_ proto: UInt8, payload: [UInt8]) -> [UInt8] {
    let length = UInt16(20 + payload.count)
    return [0x45, 0, UInt8(length >> 8), UInt8(length & 0xff), 0, 1, 0x40, 0, 64, proto, 0, 0]
      + [198, 18, 0, 1, 198, 18, 0, 2] + payload
  }

  static func ipv6(_ next: UInt8, payload: [UInt8]) -> [UInt8] {
    let length = UInt16(payload.count)
    return [0x60, 0, 0, 0, UInt8(length >> 8), UInt8(length & 0xff), next, 64]
      + [UInt8](repeating: 0x20, count: 32) + payload
  }

  static func udp(to port: UInt16, padding: Int) -> [UInt8] {
    let length = UInt16(8 + padding)
    return [
      0x30, 0x39, UInt8(port >> 8), UInt8(port & 0xff), UInt8(length >> 8),
      UInt8(length & 0xff), 0, 0,
    ] + [UInt8](repeating: 0xee, count: padding)
  }

  static let tcp: [UInt8] = [0x30, 0x39, 0, 80] + [UInt8](repeating: 0, count: 16)

  /// One of each case, with `extra` bytes of padding where a frame has payload.
  static func set(extra: Int) -> [Frame] {
    [
      Frame(bytes: [UInt8](repeating: 0xff, count: 10), classify: .aborted, protocolKey: nil),
      Frame(
        bytes: ethernet(0x0800) + ipv4(17, payload: udp(to: 9, padding: 18 + extra)),
        classify: .drop, protocolKey: 17),
      Frame(
        bytes: ethernet(0x0800) + ipv4(17, payload: udp(to: 7, padding: 56 + extra)),
        classify: .tx, protocolKey: 17),
      Frame(
        bytes: ethernet(0x0800) + ipv4(17, payload: udp(to: 53, padding: 30 + extra)),
        classify: .pass, protocolKey: 17),
      Frame(bytes: ethernet(0x0800) + ipv4(6, payload: tcp), classify: .pass, protocolKey: 6),
      Frame(
        bytes: ethernet(0x86dd) + ipv6(6, payload: tcp + [UInt8](repeating: 1, count: extra)),
        classify: .redirect, protocolKey: 6),
      Frame(
        bytes: ethernet(0x86dd) + ipv6(17, payload: udp(to: 9, padding: extra)),
        classify: .pass, protocolKey: 17),
      Frame(
        bytes: ethernet(0x0806) + [UInt8](repeating: 0, count: 46), classify: .pass,
        protocolKey: 0),
      Frame(
        bytes: ethernet(0x0800) + [0x45] + [UInt8](repeating: 0, count: 11), classify: .aborted,
        protocolKey: 0),
      Frame(
        bytes: Array((ethernet(0x0800) + ipv4(17, payload: udp(to: 9, padding: 0))).prefix(38)),
        classify: .aborted, protocolKey: 17),
      Frame(
        bytes: Array((ethernet(0x86dd) + ipv6(6, payload: tcp)).prefix(44)), classify: .aborted,
        protocolKey: 0),
      Frame(
        bytes: Array(ethernet(0x8100).prefix(12)) + [0x81, 0x00, 0, 5, 0x08, 0x00]
          + ipv4(17, payload: udp(to: 9, padding: 20)),
        classify: .pass, protocolKey: 17),
    ]
  }

  /// Three sets (36 frames): with --batch 8, the last batch is partial.
  static let all: [Frame] = set(extra: 0) + set(extra: 7) + set(extra: 100)
}

@Suite("xdpbatch run", .enabled(if: Command.ready, Command.missingReason))
struct RunCommandTests {
  static let classify = Command.sample("xdp_classify")
  static let xdp1 = Command.sample("xdp1")

  static func pcap() throws -> String {
    try temporaryFile(pcapBytes(CraftedFrames.all.map(\.bytes)), name: "crafted.pcap")
  }

  /// `"actions"` as name -> (packets, bytes).
  static func actions(_ json: [String: Any]) throws -> [String: (packets: Int, bytes: Int)] {
    let actions = try #require(json["actions"] as? [String: [String: Int]])
    return try actions.mapValues {
      (try #require($0["packets"]), try #require($0["bytes"]))
    }
  }

  @Test(
    "--json has the documented keys, the action counts add up to --packets, and the time per packet is one packet's"
  )
  func jsonShape() throws {
    for engine in ["interpreter", "jit"] {
      let start = ContinuousClock.now
      let result = try Command.run([
        "run", Self.xdp1, "--program", "xdp_prog1", "--mode", "per-packet", "--packets", "300",
        "--seed", "7", "--json", "--engine", engine,
      ])
      let (seconds, attoseconds) = (ContinuousClock.now - start).components
      let wallNanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
      #expect(result.status == 0, "\(result.errors)")
      let json = try result.json()
      for key in ["program", "mode", "packets", "actions", "ns_per_packet"] {
        #expect(json[key] != nil, "missing key \(key)")
      }
      #expect(json["program"] as? String == "xdp_prog1")
      #expect(json["mode"] as? String == "per-packet")
      #expect(json["packets"] as? Int == 300)
      #expect(json["maps"] == nil)
      // One call per packet, and the same instructions in either engine
      // (the JIT counts them as the interpreter does).
      #expect(json["invocations"] as? Int == 300, "\(engine)")
      #expect(json["instructions"] as? Int == Self.xdp1Instructions, "\(engine)")
      // The time per packet is one packet's share of the run: above the
      // time a CPU needs for that packet's instructions (no core retires
      // one in under 0.05 ns), and all 300 together within the process's
      // wall time.
      let perPacket = try #require(json["ns_per_packet"] as? Double)
      #expect(perPacket.isFinite)
      #expect(perPacket >= 0.05 * Double(Self.xdp1Instructions) / 300, "\(engine): \(perPacket)")
      #expect(
        perPacket * 300 <= wallNanoseconds,
        "\(engine): \(perPacket) ns x 300 > \(wallNanoseconds) ns")
      let actions = try Self.actions(json)
      #expect(Set(actions.keys) == ["aborted", "drop", "pass", "tx", "redirect"])
      #expect(actions.values.reduce(0) { $0 + $1.packets } == 300)
      // xdp1 drops every frame.
      #expect(actions["drop"]?.packets == 300)
    }
  }

  /// Instructions xdp1 executes over the 300 frames of seed 7 (33 a
  /// packet on average; FramesTests pins the generator's frames).
  static let xdp1Instructions = 9_872

  @Test(
    "xdp_classify on a crafted pcap gives each frame the verdict its source says",
    arguments: [["--mode", "per-packet"], ["--mode", "batch", "--batch", "8"]])
  func classifierVerdicts(_ mode: [String]) throws {
    let pcap = try Self.pcap()
    defer { try? FileManager.default.removeItem(atPath: pcap) }
    let result = try Command.run(
      ["run", Self.classify, "--program", "xdp_classify_prog", "--pcap", pcap, "--json"] + mode)
    #expect(result.status == 0, "\(result.errors)")
    let actions = try Self.actions(try result.json())
    for verdict in ["aborted", "drop", "pass", "tx", "redirect"] {
      let frames = CraftedFrames.all.filter { $0.classify.rawValue == verdict }
      #expect(actions[verdict]?.packets == frames.count, "\(verdict)")
      #expect(actions[verdict]?.bytes == frames.reduce(0) { $0 + $1.bytes.count }, "\(verdict)")
    }
  }

  @Test("--verdicts lists each frame's verdict; -w writes the output frames, pcapng or pcap")
  func verdictsAndOutputFrames() throws {
    let pcap = try Self.pcap()
    defer { try? FileManager.default.removeItem(atPath: pcap) }
    let base = ["run", Self.classify, "--program", "xdp_classify_prog", "--mode", "per-packet"]
    let result = try Command.run(base + ["--pcap", pcap, "--json", "--verdicts"])
    #expect(result.status == 0, "\(result.errors)")
    let verdicts = try #require(try result.json()["verdicts"] as? [String])
    #expect(verdicts == CraftedFrames.all.map(\.classify.rawValue))

    for suffix in ["pcapng", "pcap"] {
      let output = pcap + ".out." + suffix
      defer { try? FileManager.default.removeItem(atPath: output) }
      let written = try Command.run(base + ["--pcap", pcap, "-w", output])
      #expect(written.status == 0, "\(written.errors)")
      // The written file runs again, frame for frame, with the same verdicts
      // for the frames the program passed on unchanged.
      let again = try Command.run(base + ["--pcap", output, "--json", "--verdicts"])
      #expect(again.status == 0, "\(again.errors)")
      let rerun = try #require(try again.json()["verdicts"] as? [String])
      #expect(rerun.count == CraftedFrames.all.count)
      if suffix == "pcapng" {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(String(decoding: bytes, as: UTF8.self).contains("verdict: XDP_REDIRECT"))
      }
    }
  }

  @Test("batch mode gives the same counts as per-packet, for every strategy and bound")
  func batchMatchesPerPacket() throws {
    let base = [
      "run", Self.classify, "--program", "xdp_classify_prog", "--packets", "256", "--json",
    ]
    let single = try Self.actions(try Command.run(base + ["--mode", "per-packet"]).json())
    for strategy in ["shift", "reserve"] {
      for bound in ["count", "immediate", "end-pointer"] {
        let result = try Command.run(
          base + ["--mode", "batch", "--strategy", strategy, "--bound", bound, "--batch", "32"])
        #expect(result.status == 0, "\(strategy)/\(bound): \(result.errors)")
        let json = try result.json()
        // 256 packets in batches of 32: 8 calls.
        #expect(json["invocations"] as? Int == 8, "\(strategy)/\(bound)")
        let batch = try Self.actions(json)
        for (name, counter) in single {
          #expect(batch[name]?.packets == counter.packets, "\(strategy)/\(bound) \(name)")
          #expect(batch[name]?.bytes == counter.bytes, "\(strategy)/\(bound) \(name)")
        }
      }
    }
  }

  @Test("--maps lists xdp1's per-protocol counts, per CPU")
  func mapContents() throws {
    let pcap = try Self.pcap()
    defer { try? FileManager.default.removeItem(atPath: pcap) }
    for mode in ["per-packet", "batch"] {
      let result = try Command.run([
        "run", Self.xdp1, "--program", "xdp_prog1", "--mode", mode, "--pcap", pcap, "--maps",
        "--json",
      ])
      #expect(result.status == 0, "\(result.errors)")
      let maps = try #require(try result.json()["maps"] as? [String: [String: Any]])
      let rxcnt = try #require(maps["rxcnt"])
      #expect(rxcnt["type"] as? String == "percpu_array")
      let entries = try #require(rxcnt["entries"] as? [[String: Any]])
      #expect(entries.count == 256)
      var counts: [Int: UInt64] = [:]
      for entry in entries {
        let key = try #require(entry["key"] as? String)
        let values = try #require(entry["values"] as? [String])
        let sum = values.reduce(UInt64(0)) { $0 + littleEndian($1) }
        if sum != 0 { counts[Int(littleEndian(key))] = sum }
      }
      var expected: [Int: UInt64] = [:]
      for frame in CraftedFrames.all {
        if let key = frame.protocolKey { expected[key, default: 0] += 1 }
      }
      #expect(counts == expected, "\(mode)")
    }
  }

  @Test("a broken pcap fails with exit 1 and names the file")
  func badPcap() throws {
    let path = try temporaryFile(Array("not a capture file at all".utf8), name: "broken.pcap")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let result = try Command.run([
      "run", Self.classify, "--program", "xdp_classify_prog", "--mode", "per-packet", "--pcap",
      path,
    ])
    #expect(result.status == 1)
    #expect(result.errors.contains(path))
    let truncated = try temporaryFile(
      Array(pcapBytes([[UInt8](repeating: 1, count: 60)]).dropLast(5)), name: "truncated.pcap")
    defer { try? FileManager.default.removeItem(atPath: truncated) }
    let second = try Command.run([
      "run", Self.classify, "--program", "xdp_classify_prog", "--mode", "per-packet", "--pcap",
      truncated,
    ])
    #expect(second.status == 1)
    #expect(second.errors.contains(truncated) && second.errors.contains("record 0"))
  }

  @Test("an unknown program fails with exit 1 naming the object and the program")
  func unknownProgram() throws {
    let result = try Command.run(["run", Self.classify, "--program", "nope", "--mode", "batch"])
    #expect(result.status == 1)
    #expect(result.errors.contains(Self.classify) && result.errors.contains("nope"))
  }

  @Test("--form selects the form; the old --mode per-packet|batch works with a warning")
  func formAndDeprecatedMode() throws {
    let base = ["run", Self.xdp1, "--program", "xdp_prog1", "--packets", "64", "--json"]
    for form in ["per-packet", "batch"] {
      let current = try Command.run(base + ["--form", form])
      #expect(current.status == 0, "\(current.errors)")
      let json = try current.json()
      #expect(json["form"] as? String == form)
      #expect(json["mode"] as? String == form, "DESIGN.md's key stays")
      #expect(!current.errors.contains("deprecated"))

      let legacy = try Command.run(base + ["--mode", form])
      #expect(legacy.status == 0, "\(legacy.errors)")
      #expect(try legacy.json()["form"] as? String == form)
      #expect(legacy.errors.contains("`run --mode \(form)` is deprecated"))
      #expect(legacy.errors.contains("--form \(form)"))
    }
    let plain = try Command.run(base)
    #expect(try plain.json()["form"] as? String == "per-packet", "per-packet by default")

    // An attach mode is not a form: refused, saying what to use.
    for spelling in ["native", "skb", "hw"] {
      let attachMode = try Command.run(base + ["--mode", spelling])
      #expect(attachMode.status == 2)
      #expect(attachMode.errors.contains("is an attach mode"))
      #expect(attachMode.errors.contains("--form per-packet|batch"))
    }
    let both = try Command.run(base + ["--form", "batch", "--mode", "batch"])
    #expect(both.status == 2)
    let badForm = try Command.run(base + ["--form", "native"])
    #expect(badForm.status == 2)
    let badStrategy = try Command.run(base + ["--form", "batch", "--strategy", "sideways"])
    #expect(badStrategy.status == 2)
  }

  @Test("usage errors exit 2")
  func usageErrors() throws {
    let badMode = try Command.run(["run", Self.xdp1, "--program", "xdp_prog1", "--mode", "fast"])
    #expect(badMode.status == 2)
    let both = try Command.run([
      "run", Self.xdp1, "--program", "xdp_prog1", "--mode", "batch", "--packets", "3", "--pcap",
      "x.pcap",
    ])
    #expect(both.status == 2)
  }
}

/// Hex bytes read as a little-endian integer.
func littleEndian(_ hex: String) -> UInt64 {
  let bytes = stride(from: 0, to: hex.count, by: 2).map { offset -> UInt64 in
    let start = hex.index(hex.startIndex, offsetBy: offset)
    return UInt64(hex[start..<hex.index(start, offsetBy: 2)], radix: 16) ?? 0
  }
  return bytes.enumerated().reduce(0) { $0 | $1.element << (8 * UInt64($1.offset)) }
}
