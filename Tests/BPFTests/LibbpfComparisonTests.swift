import CBPF
import Foundation
import Testing

@testable import BPF

/// What libbpf reports when it opens an object (no kernel needed).
struct LibbpfView {
  struct Map: Equatable, CustomStringConvertible {
    var name: String
    var type: UInt32
    var keySize: UInt32
    var valueSize: UInt32
    var maxEntries: UInt32
    var flags: UInt32
    var description: String {
      "\(name) type=\(type) key=\(keySize) value=\(valueSize) max=\(maxEntries) flags=\(flags)"
    }
  }
  struct ProgramInfo: Equatable {
    var name: String
    var section: String
    var instructionCount: Int
  }

  var maps: [Map] = []
  var programs: [ProgramInfo] = []

  init(path: String) throws {
    cbpf_silence_libbpf()
    guard let object = bpf_object__open_file(path, nil) else {
      throw LibbpfOpenError(path: path, errno: cbpf_errno())
    }
    defer { bpf_object__close(object) }
    var map = bpf_object__next_map(object, nil)
    while let current = map {
      maps.append(
        Map(
          name: String(cString: bpf_map__name(current)), type: bpf_map__type(current).rawValue,
          keySize: bpf_map__key_size(current), valueSize: bpf_map__value_size(current),
          maxEntries: bpf_map__max_entries(current), flags: bpf_map__map_flags(current)))
      map = bpf_object__next_map(object, current)
    }
    var program = bpf_object__next_program(object, nil)
    while let current = program {
      programs.append(
        ProgramInfo(
          name: String(cString: bpf_program__name(current)),
          section: String(cString: bpf_program__section_name(current)),
          instructionCount: bpf_program__insn_cnt(current)))
      program = bpf_object__next_program(object, current)
    }
  }
}

struct LibbpfOpenError: Error {
  var path: String
  var errno: Int32
}

func ours(_ object: BPFObject) -> [LibbpfView.Map] {
  object.maps.map {
    LibbpfView.Map(
      name: $0.name, type: $0.type.rawValue, keySize: $0.keySize, valueSize: $0.valueSize,
      maxEntries: $0.maxEntries, flags: $0.flags)
  }
}

@Suite("BPFObject against libbpf's bpf_object__open")
struct LibbpfComparisonTests {
  @Test("maps and programs match libbpf", arguments: ObjectFixtures.sampleNames)
  func sampleMatchesLibbpf(name: String) throws {
    let path = ObjectFixtures.samplePath(name)
    let expected = try LibbpfView(path: path)
    let object = try BPFObject(contentsOf: path)
    try compare(object, with: expected)
  }

  @Test(
    "global data, flags, pinning and xdp.frags match libbpf",
    .enabled(if: ObjectFixtures.clang != nil, "no clang on PATH"))
  func globalsMatchLibbpf() throws {
    let path = try ObjectFixtures.compile(ObjectFixtures.globalsSource, name: "globals_fixture")
    let expected = try LibbpfView(path: path)
    let object = try BPFObject(contentsOf: path)
    try compare(object, with: expected)
    #expect(expected.maps.count == 5)
    #expect(object.mapDeclarations.first { $0.definition.name == "ports" }?.pinning == 1)
    let rodata = try #require(object.mapDeclarations.first { $0.section == ".rodata" })
    #expect(rodata.definition.initialValue == [7, 0, 0, 0])
    let bss = try #require(object.mapDeclarations.first { $0.section == ".bss" })
    #expect(bss.definition.initialValue == [UInt8](repeating: 0, count: 8))
  }

  private func compare(_ object: BPFObject, with expected: LibbpfView) throws {
    #expect(ours(object) == expected.maps)
    #expect(object.programNames == expected.programs.map(\.name))
    #expect(object.programEntries.map(\.sectionName) == expected.programs.map(\.section))
    for program in expected.programs {
      let linked = try object.program(named: program.name)
      #expect(linked.mainLength == program.instructionCount, "\(program.name)")
      #expect(linked.sectionName == program.section)
    }
  }
}
