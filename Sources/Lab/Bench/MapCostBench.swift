import BPF
import Datapath
import Deployment
import Engine
import Glibc
import Kernel

/// What sharing the program's maps with the kernel costs the software
/// datapath, per map type the samples use: each sample runs with its maps
/// the engines' own (the datapath before issue 25: the reference) and
/// shared with the kernel, alternately (own, shared, shared, own) on the
/// same veth pair in the same run, so that drift of the machine's load
/// falls on both. A shared row's cost per packet is the datapath's time
/// per packet plus the queues' exchanges with the kernel's maps (between
/// RX batches, so outside the datapath's time) per packet.
extension DatapathBench {
  /// A sample of the maps part and how it is driven.
  struct MapSample {
    var file: String
    var program: String
    /// The interleaved mix (every verdict) instead of the DROP template.
    var mixed = false
    /// Entries written into the kernel's maps before traffic, by map name.
    var entries: [String: [(key: UInt32, value: UInt32)]] = [:]
  }

  /// xdp1: PERCPU_ARRAY (exchanged). xdp_redirect_map: DEVMAP (read),
  /// keys 0 and 1 to loopback, so every frame is a REDIRECT the datapath
  /// cannot send (recycled, counted as failed: no TAP write in the way),
  /// and a PERCPU_ARRAY. xdp_classify on the mix: an ARRAY (mapped) read
  /// for its IPv6 frames. xdp_stack_helper: a HASH (exchanged), updated
  /// for every frame.
  static let mapSamples = [
    MapSample(file: "xdp1.o", program: "xdp_prog1"),
    MapSample(
      file: "xdp_redirect_map.o", program: "xdp_redirect_map_prog",
      entries: ["tx_port": [(0, 1), (1, 1)]]),
    MapSample(file: "xdp_classify.o", program: "xdp_classify_prog", mixed: true),
    MapSample(file: "xdp_stack_helper.o", program: "xdp_stack_helper_prog"),
  ]

  /// The maps part: one ``MapCostRow`` per sample, per-packet form, the
  /// bench's engine.
  func mapCosts(_ network: BenchNetwork, progress: (String) -> Void) throws(DatapathBenchError)
    -> [MapCostRow]
  {
    var costs: [MapCostRow] = []
    for sample in Self.mapSamples {
      let source = ProgramSource(
        objectPath: samples + "/" + sample.file, programName: sample.program)
      progress("maps: \(sample.program), own maps and shared, alternately")
      var rows: [DatapathBenchRow] = []
      var sharing: [String: MapSharing] = [:]
      for shared in [false, true, true, false] {
        let row = try softwareRow(
          source, form: .perPacket, engine: engine, grouped: false, mixed: sample.mixed, network,
          sharedMaps: shared
        ) { (datapath) throws(DatapathBenchError) in
          try Self.fill(datapath, sample.entries)
          if shared { sharing = datapath.status().mapSharing ?? [:] }
        }
        rows.append(row)
      }
      costs.append(
        MapCostRow(
          program: sample.program, maps: try Self.maps(of: source, sharing: sharing), rows: rows))
    }
    return costs
  }

  private static func fill(
    _ datapath: SoftwareDatapath, _ entries: [String: [(key: UInt32, value: UInt32)]]
  ) throws(DatapathBenchError) {
    for (name, pairs) in entries {
      guard let map = datapath.kernelMap(named: name) else {
        throw .step("fill map \(name)", "the program has no map of that name")
      }
      for pair in pairs {
        do {
          try map.update(key: KernelMap.key(pair.key), value: KernelMap.key(pair.value))
        } catch {
          throw .step("fill map \(name)", "\(error)")
        }
      }
    }
    // The engines read it at their next exchange.
    usleep(UInt32(2 * MapSharing.periodMilliseconds) * 1000)
  }

  /// `name: type, sharing` for every map of the program.
  private static func maps(of source: ProgramSource, sharing: [String: MapSharing])
    throws(DatapathBenchError) -> [String]
  {
    do {
      return try BPFObject(contentsOf: source.objectPath).maps.map {
        "\($0.name): \($0.type), \(sharing[$0.name]?.rawValue ?? "?")"
      }
    } catch {
      throw .step("read \(source.objectPath)", "\(error)")
    }
  }
}

/// One sample's cost per packet with its maps the engines' own and shared
/// with the kernel (`"maps"` of the datapath section in `--json`).
public struct MapCostRow: Encodable, Sendable {
  /// The program.
  public var program: String
  /// Its maps: `name: type, sharing`.
  public var maps: [String]
  /// The rows, in the order measured (own, shared, shared, own).
  public var rows: [DatapathBenchRow]
  /// The datapath's ns per packet with its own maps (mean of two rows).
  public var ownNanosecondsPerPacket: Double?
  /// With shared maps: the datapath's ns per packet plus the exchanges'
  /// (mean of two rows).
  public var sharedNanosecondsPerPacket: Double?
  /// Of that, the exchanges' ns per packet.
  public var exchangeNanosecondsPerPacket: Double?
  /// Microseconds one exchange took with shared maps (mean of two rows):
  /// the cost that does not depend on the packet rate (each queue
  /// exchanges every ``MapSharing/periodMilliseconds``).
  public var exchangeMicroseconds: Double?
  /// Shared over own: the cost of sharing (1.0: none).
  public var ratio: Double?
  /// Acted Mpps shared over own (means of two rows each).
  public var actedRatio: Double?

  /// The figures of `rows` (own and shared rows in any order).
  public init(program: String, maps: [String], rows: [DatapathBenchRow]) {
    self.program = program
    self.maps = maps
    self.rows = rows
    let own = rows.filter { $0.sharedMaps == false }
    let shared = rows.filter { $0.sharedMaps == true }
    func mean(_ values: [Double?]) -> Double? {
      let present = values.compactMap { $0 }
      return present.isEmpty || present.count < values.count
        ? nil : present.reduce(0, +) / Double(present.count)
    }
    ownNanosecondsPerPacket = mean(own.map(\.datapathNanosecondsPerPacket))
    exchangeNanosecondsPerPacket = mean(shared.map { $0.exchangeNanosecondsPerPacket ?? 0 })
    exchangeMicroseconds = mean(shared.map { $0.exchangeMicroseconds ?? 0 })
    sharedNanosecondsPerPacket = mean(
      shared.map { row in
        row.datapathNanosecondsPerPacket.map { $0 + (row.exchangeNanosecondsPerPacket ?? 0) }
      })
    if let own = ownNanosecondsPerPacket, let shared = sharedNanosecondsPerPacket, own > 0 {
      ratio = shared / own
    }
    if let ownActed = mean(own.map(\.actedMpps)), let sharedActed = mean(shared.map(\.actedMpps)),
      ownActed > 0
    {
      actedRatio = sharedActed / ownActed
    }
  }

  private enum CodingKeys: String, CodingKey {
    case program, maps, rows, ratio, actedRatio, exchangeMicroseconds
    case ownNanosecondsPerPacket = "ownNsPerPacket"
    case sharedNanosecondsPerPacket = "sharedNsPerPacket"
    case exchangeNanosecondsPerPacket = "exchangeNsPerPacket"
  }
}
