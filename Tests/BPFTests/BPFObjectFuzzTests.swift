import Foundation
import TestSupport
import Testing

@testable import BPF

/// Corrupts an object in one of the ways files get damaged or forged.
struct Corruptor {
  var random: SeededRandom

  mutating func corrupt(_ original: [UInt8]) -> [UInt8] {
    var patch = ELFPatch(original)
    switch Int.random(in: 0..<6, using: &random) {
    case 0:
      for _ in 0..<Int.random(in: 1...8, using: &random) {
        let index = Int.random(in: 0..<patch.bytes.count, using: &random)
        patch.bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
      }
    case 1:
      for _ in 0..<Int.random(in: 1...16, using: &random) {
        let index = Int.random(in: 0..<patch.bytes.count, using: &random)
        patch.bytes[index] = UInt8.random(in: 0...255, using: &random)
      }
    case 2:
      patch.bytes.removeLast(Int.random(in: 1..<patch.bytes.count, using: &random))
    case 3:
      // A section header field: name, type, flags, offset, size, link, info.
      let section = Int.random(in: 0..<patch.sectionCount, using: &random)
      let (field, width) = [(0, 4), (4, 4), (8, 8), (24, 8), (32, 8), (40, 4), (44, 4)]
        .randomElement(using: &random)!
      patch.write(patch.header(section) + field, width, interesting(width))
    case 4:
      // An ELF header field: type, machine, shoff, shentsize, shnum, shstrndx.
      let (field, width) = [(16, 2), (18, 2), (40, 8), (58, 2), (60, 2), (62, 2)]
        .randomElement(using: &random)!
      patch.write(field, width, interesting(width))
    default:
      // Inside .BTF, .BTF.ext, .maps or a relocation section: the parsed data.
      let name = [".BTF", ".BTF.ext", ".maps", ".relxdp", ".symtab"].randomElement(using: &random)!
      guard let start = patch.contents(of: name),
        let index = patch.section(named: name)
      else { break }
      let size = Int(patch.read(patch.header(index) + ELFPatch.sizeField, 8))
      guard size >= 4 else { break }
      let offset = start + Int.random(in: 0..<(size - 3), using: &random) & ~3
      patch.write(offset, 4, interesting(4))
    }
    return patch.bytes
  }

  /// Boundary values and random ones.
  private mutating func interesting(_ width: Int) -> UInt64 {
    let mask: UInt64 = width == 8 ? .max : (1 << (8 * UInt64(width))) - 1
    let choices: [UInt64] = [
      0, 1, 2, 7, 8, 24, 64, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, .max, .max - 7,
      UInt64.random(in: 0...mask, using: &random),
    ]
    return choices.randomElement(using: &random)! & mask
  }
}

@Suite("Fuzzing the object reader")
struct BPFObjectFuzzTests {
  /// Corruptions per sample; `XDPBATCH_FUZZ_ITERATIONS` raises it for a longer run.
  static let iterations =
    ProcessInfo.processInfo.environment["XDPBATCH_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 1000
  static let seed =
    ProcessInfo.processInfo.environment["XDPBATCH_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x1234_5678

  @Test(arguments: ObjectFixtures.sampleNames)
  func corruptedSamplesNeverCrash(name: String) throws {
    let original = try ObjectFixtures.sampleBytes(name)
    var corruptor = Corruptor(random: SeededRandom(state: UInt64(name.utf8.count) &* Self.seed))
    var parsed = 0
    var rejected = 0
    for _ in 0..<Self.iterations {
      let bytes = corruptor.corrupt(original)
      do {
        let object = try BPFObject(bytes: bytes, name: name)
        parsed += 1
        for program in object.programNames {
          expectSound(program, of: object, fileSize: bytes.count, name: name)
        }
      } catch {
        // A typed BPFObjectError, with a message naming the file.
        #expect("\(error)".hasPrefix("\(name): "))
        rejected += 1
      }
    }
    // Both outcomes occur: the corruptions reach the checks, and not every
    // damaged byte is one the reader needs.
    #expect(parsed > 0)
    #expect(rejected > 0)
  }

  /// A program the damaged object still offers either links into code that
  /// fits in the file and decodes, or is refused with an error naming the
  /// file: never an empty or oversized program.
  private func expectSound(_ program: String, of object: BPFObject, fileSize: Int, name: String) {
    do {
      let linked = try object.program(named: program)
      #expect(!linked.instructions.isEmpty)
      #expect(linked.instructions.count * 8 <= fileSize)
      #expect(linked.name == program)
    } catch {
      #expect("\(error)".hasPrefix("\(name): "))
    }
  }
}
