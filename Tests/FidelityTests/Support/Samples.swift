import BPF
import Foundation
import Frames
import TestSupport
import Testing

/// One XDP program of one bundled sample object (`make samples` compiles
/// them into build/samples at the package root).
struct SampleProgram: CustomTestStringConvertible, Sendable {
  var path: String
  var program: String

  var object: String { URL(fileURLWithPath: path).lastPathComponent }
  var testDescription: String { "\(object):\(program)" }

  /// The XDP programs of `objects`, by object then program, and the
  /// objects that could not be read.
  static func listing(_ objects: [URL]) -> ProgramListing<SampleProgram> {
    ProgramListing(objects: objects) { url in
      try BPFObject(contentsOf: url.path).programEntries.filter(\.isXDP).map {
        SampleProgram(path: url.path, program: $0.name)
      }
    }
  }

  /// Every XDP program of every compiled sample.
  static let samples = listing(PackageLayout.sampleObjects)
  static var all: [SampleProgram] { samples.programs }

  /// Every XDP program of the rewriter's compiled corpus (`make corpus`).
  static let corpusListing = listing(PackageLayout.corpusObjects)
  static var corpus: [SampleProgram] { corpusListing.programs }
}

/// The map contents both worlds start from, so that every branch a sample
/// has can be taken:
/// - DEVMAP and DEVMAP_HASH: every even key names the test's device; odd
///   keys stay empty, so `bpf_redirect_map` both succeeds and falls back.
/// - `redirect_ifindex` (xdp_classify): the test's device.
/// - PROG_ARRAY: every even slot holds the object's other XDP program;
///   odd slots stay empty, so `bpf_tail_call` both jumps and falls through.
struct InitialMaps {
  /// A plain value to store: map index, key, value.
  var values: [(map: Int, key: [UInt8], value: [UInt8])] = []
  /// Program array slots to fill: map index, slot, program name.
  var programSlots: [(map: Int, slot: UInt32, program: String)] = []

  init(object: BPFObject, program: String, device: UInt32) {
    let ifindex = withUnsafeBytes(of: device.littleEndian) { Array($0) }
    let others = object.programEntries.filter { $0.isXDP && $0.name != program }.map(\.name)
    for (index, map) in object.maps.enumerated() {
      let evenKeys = stride(from: UInt32(0), to: min(map.maxEntries, 16), by: 2)
      switch map.type {
      case .devmap, .devmapHash:
        for key in evenKeys { values.append((index, Self.key(key), ifindex)) }
      case .array where map.name == "redirect_ifindex":
        values.append((index, Self.key(0), ifindex))
      case .programArray:
        guard let target = others.first else { continue }
        for slot in evenKeys { programSlots.append((index, slot, target)) }
      default:
        continue
      }
    }
  }

  static func key(_ value: UInt32) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
  }
}

/// The frames both worlds see: seeded generated frames, with some IPv4 UDP
/// frames sent to port 9 (discard) and port 7 (echo) so that xdp_classify's
/// DROP and TX paths are taken too (the generator picks ports >= 1024).
func fidelityFrames(count: Int, seed: UInt64) -> [[UInt8]] {
  var generator = FrameGenerator(seed: seed)
  var frames = generator.frames(count)
  var udp = 0
  for index in frames.indices {
    let frame = frames[index]
    guard frame.count >= 14 + 20 + 8, frame[12] == 0x08, frame[13] == 0x00, frame[14] == 0x45,
      frame[23] == 17
    else { continue }
    udp += 1
    let port: UInt8? = udp % 3 == 0 ? 9 : udp % 3 == 1 ? 7 : nil
    if let port {
      frames[index][36] = 0
      frames[index][37] = port
    }
  }
  return frames
}
