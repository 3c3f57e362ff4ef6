import BPF
import Foundation
import KernelTestSupport
import TestSupport
import Testing

@testable import Kernel

/// Where Debian's bpftool is (`make deps` installs it).
private let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

/// xdpbatch creates ARRAY maps with `BPF_F_MMAPABLE` (so the software
/// datapath maps the kernel's values), and that changes nothing for the
/// kernel program: every sample and corpus program that uses an ARRAY,
/// loaded once on arrays made without the flag and once as the loader
/// makes them, gets the same verifier work (`verified_insns`), the same
/// translated code (`bpftool prog dump xlated`, map ids aside) and the
/// same JIT code but for the map addresses it loads; `bpftool map dump`
/// prints the same entries, and `bpftool map show` differs only in the
/// flags and the memory the kernel accounts (whole pages).
@Suite(
  .serialized, .enabled(if: KernelAccess.available, KernelAccess.comment),
  .enabled(if: bpftool != nil, "bpftool is not installed (make deps)"))
struct MappableArrayTests {
  static func bpftoolRun(_ arguments: [String]) throws -> String {
    let result = try runProcess(URL(fileURLWithPath: try #require(bpftool)), arguments)
    try #require(result.status == 0, "bpftool \(arguments): \(result.errors)")
    return result.output
  }

  /// Every program of the samples and the corpus that references an ARRAY.
  static func programsUsingArrays() throws -> [(object: BPFObject, program: Program)] {
    var found: [(BPFObject, Program)] = []
    for url in PackageLayout.sampleObjects + PackageLayout.corpusObjects {
      let object = try BPFObject(contentsOf: url.path)
      for program in try object.programs() where Program.isXDPSection(program.sectionName) {
        let types = Set(program.mapReferences.map { object.maps[$0.map].type })
        if types.contains(.array) { found.append((object, program)) }
      }
    }
    return found
  }

  @Test func everyProgramUsingAnArrayIsCovered() throws {
    let names = try Self.programsUsingArrays().map(\.program.name)
    // xdp_classify's redirect_ifindex, the corpus's counters, shared_maps.
    #expect(names.contains("xdp_classify_prog"))
    #expect(names.contains("shared_maps_prog"))
    #expect(names.count >= 5, "\(names)")
  }

  @Test func theFlagChangesNothingForTheProgram() throws {
    for (object, program) in try Self.programsUsingArrays() {
      // Global data (.rodata of a bpf_printk format, .data, .bss) is
      // mappable either way, as libbpf makes it.
      let arrays = Set(
        program.mapReferences.map(\.map).filter {
          object.maps[$0].type == .array && object.maps[$0].initialValue == nil
        })
      // Without the flag: the arrays made by hand, as before.
      var plain: [Int: KernelMap] = [:]
      for index in arrays { plain[index] = try KernelMap.create(object.maps[index]) }
      let without: ProgramLoader.Loaded
      do {
        without = try ProgramLoader(maps: object.maps, reusing: plain).load(program)
      } catch {
        // A program this kernel refuses (bpf_xdp_adjust_meta is withheld
        // here) is refused alike with the flag.
        #expect(throws: error) { try ProgramLoader(maps: object.maps).load(program) }
        continue
      }
      let with = try ProgramLoader(maps: object.maps).load(program)
      for index in arrays {
        #expect(without.maps[index]?.info.isMemoryMappable == false)
        #expect(with.maps[index]?.info.isMemoryMappable == true, "\(object.maps[index].name)")
      }

      let before = try without.program.info()
      let after = try with.program.info()
      #expect(before.verifiedInstructions == after.verifiedInstructions, "\(program.name)")
      #expect(before.xlatedBytes == after.xlatedBytes, "\(program.name)")
      #expect(before.jitedBytes == after.jitedBytes, "\(program.name)")
      #expect(after.jitedBytes > 0, "the JIT is on")

      func xlated(_ id: UInt32) throws -> String {
        try Self.bpftoolRun(["prog", "dump", "xlated", "id", String(id)])
          .replacing(/map\[id:\d+\]/, with: "map[id:N]")
      }
      #expect(try xlated(before.id) == xlated(after.id), "\(program.name)")

      let machineBefore = try without.program.machineCode()
      let machineAfter = try with.program.machineCode()
      #expect(
        Self.differOnlyInKernelAddresses(machineBefore, machineAfter),
        "\(program.name): the JIT code differs beyond the maps' addresses")
    }
  }

  /// Whether two x86-64 codes of one program are the same but for the
  /// 64-bit immediates of `movabs` (REX.W B8+r imm64) holding kernel
  /// addresses (the maps), and the displacements of calls and jumps
  /// (E8/E9 rel32): the two programs' images (a subprogram has one of its
  /// own) lie at other addresses, so a call to the same helper is encoded
  /// with another displacement.
  static func differOnlyInKernelAddresses(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count, !a.isEmpty else { return false }
    var masked = Set<Int>()
    func value(_ code: [UInt8], _ bytes: Range<Int>) -> UInt64 {
      bytes.reversed().reduce(0) { $0 << 8 | UInt64(code[$1]) }
    }
    for start in a.indices where a[start] == b[start] {
      if start + 10 <= a.count, a[start] & 0xf8 == 0x48, (0xb8...0xbf).contains(a[start + 1]),
        a[start + 1] == b[start + 1]
      {
        let immediate = (start + 2)..<(start + 10)
        if value(a, immediate) >> 48 == 0xffff, value(b, immediate) >> 48 == 0xffff {
          masked.formUnion(immediate)
        }
      } else if start + 5 <= a.count, a[start] == 0xe8 || a[start] == 0xe9 {
        masked.formUnion((start + 1)..<(start + 5))
      }
    }
    return a.indices.allSatisfy { a[$0] == b[$0] || masked.contains($0) }
  }

  @Test func bpftoolShowsTheSameEntries() throws {
    let definition = MapDefinition(
      name: "xbt_mmapable", type: .array, keySize: 4, valueSize: 12, maxEntries: 100)
    let plain = try KernelMap.create(definition)
    let mappable = try KernelMap.create(definition.withMappableValues)
    #expect(!plain.info.isMemoryMappable && mappable.info.isMemoryMappable)
    for map in [plain, mappable] {
      for key in [0, 7, 99] as [UInt32] {
        try map.update(
          key: KernelMap.key(key), value: KernelMap.key(key * 3) + [1, 2, 3, 4, 5, 6, 7, 8])
      }
    }
    #expect(
      try Self.bpftoolRun(["map", "dump", "id", String(plain.id)])
        == Self.bpftoolRun(["map", "dump", "id", String(mappable.id)]))
    func show(_ map: KernelMap) throws -> String {
      try Self.bpftoolRun(["map", "show", "id", String(map.id)])
        .replacing(/^\d+:/, with: "N:").replacing(/flags 0x[0-9a-f]+/, with: "flags F")
        .replacing(/memlock \d+B/, with: "memlock M")
    }
    #expect(try show(plain) == show(mappable))
    #expect(
      try Self.bpftoolRun(["map", "show", "id", String(mappable.id)]).contains("flags 0x400"))
  }
}
