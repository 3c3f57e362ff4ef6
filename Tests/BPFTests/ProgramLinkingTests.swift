import Testing

@testable import BPF

/// The target index of every local call (and code address) in a linked program.
func localCallTargets(_ program: Program) -> [(index: Int, target: Int)] {
  program.instructions.enumerated().compactMap { index, instruction in
    guard instruction.isLocalCall || instruction.immediateLoadKind == .codeAddress else {
      return nil
    }
    return (index, index + Int(instruction.immediate) + 1)
  }
}

@Suite("Linking programs like libbpf")
struct ProgramLinkingTests {
  @Test func classifyCallsAppendedSubprogram() throws {
    let object = try BPFObject(contentsOf: ObjectFixtures.samplePath("xdp_classify"))
    let program = try object.program(named: "xdp_classify_prog")
    #expect(program.subprograms.map(\.name) == ["classify_ipv4"])
    let subprogram = try #require(program.subprograms.first)
    #expect(subprogram.start == program.mainLength)
    #expect(program.instructions.count == program.mainLength + subprogram.length)
    let calls = localCallTargets(program)
    #expect(calls.count == 1)
    #expect(calls.allSatisfy { $0.index < program.mainLength && $0.target == subprogram.start })
    // The appended body is .text's classify_ipv4, byte for byte.
    let bytes = try ObjectFixtures.sampleBytes("xdp_classify")
    let patch = ELFPatch(bytes)
    let text = try #require(patch.contents(of: ".text"))
    let appended = Instruction.encode(program.instructions[subprogram.start...])
    #expect(appended == Array(bytes[text..<(text + subprogram.length * 8)]))
    #expect(program.instructions.last?.isExit == true)
  }

  @Test func nestedCallsAllResolve() throws {
    let object = try BPFObject(contentsOf: ObjectFixtures.samplePath("xdp_calls"))
    let program = try object.program(named: "xdp_calls_prog")
    #expect(program.subprograms.map(\.name) == ["hash_macs", "fold_bytes"])
    let starts = Set(program.subprograms.map(\.start))
    let calls = localCallTargets(program)
    #expect(calls.count == 3)  // main -> hash_macs, hash_macs -> fold_bytes twice
    #expect(calls.allSatisfy { starts.contains($0.target) })
    let foldStart = try #require(program.subprograms.last?.start)
    #expect(calls.filter { $0.target == foldStart }.count == 2)
    for subprogram in program.subprograms {
      #expect(program.instructions[subprogram.start + subprogram.length - 1].isExit)
    }
  }

  @Test func mapReferencesNameTheRightMaps() throws {
    let xdp1 = try BPFObject(contentsOf: ObjectFixtures.samplePath("xdp1"))
    let counter = try xdp1.program(named: "xdp_prog1")
    #expect(counter.mapReferences.map { xdp1.maps[$0.map].name } == ["rxcnt"])

    let redirect = try BPFObject(contentsOf: ObjectFixtures.samplePath("xdp_redirect_map"))
    let program = try redirect.program(named: "xdp_redirect_map_prog")
    let names = program.mapReferences.map { redirect.maps[$0.map].name }
    #expect(Set(names) == ["forwarded", "tx_port"])
    // The map passed to bpf_redirect_map is the DEVMAP.
    let call = try #require(
      program.instructions.firstIndex {
        $0.isHelperCall && $0.immediate == HelperFunction.redirectMap.rawValue
      })
    let load = try #require(program.mapReferences.last { $0.instruction < call })
    #expect(redirect.maps[load.map].name == "tx_port")
    #expect(redirect.maps[load.map].type == .devmap)
  }

  @Test func twoProgramsInOneSection() throws {
    let object = try BPFObject(contentsOf: ObjectFixtures.samplePath("xdp_tailcall"))
    #expect(object.programNames == ["xdp_tailcall_prog", "xdp_tailcall_target"])
    let programs = try object.programs()
    #expect(programs.map(\.sectionName) == ["xdp", "xdp"])
    let raw = try #require(object.section(named: "xdp")).instructions
    #expect(programs.map(\.instructions.count).reduce(0, +) == raw.count)
    #expect(programs.allSatisfy { $0.instructions.last?.isExit == true && $0.isXDP })
  }

  @Test func unknownProgramListsAvailableNames() throws {
    let object = try BPFObject(contentsOf: ObjectFixtures.samplePath("xdp_tailcall"))
    #expect(
      throws: BPFObjectError.unknownProgram(
        file: ObjectFixtures.samplePath("xdp_tailcall"), name: "nope",
        available: ["xdp_tailcall_prog", "xdp_tailcall_target"])
    ) { try object.program(named: "nope") }
  }
}

@Suite(
  "Objects the samples do not cover", .enabled(if: ObjectFixtures.clang != nil, "no clang on PATH"))
struct FixtureObjectTests {
  @Test func globalDataAndGlobalSubprogram() throws {
    let path = try ObjectFixtures.compile(ObjectFixtures.globalsSource, name: "globals_fixture")
    let object = try BPFObject(contentsOf: path)
    let program = try object.program(named: "frags_prog")
    #expect(program.sectionName == "xdp.frags" && program.isXDP)
    // call -1 with a relocation against the global symbol in .text
    #expect(program.subprograms.map(\.name) == ["global_helper"])
    #expect(localCallTargets(program).map(\.target) == program.subprograms.map(\.start))
    let references = program.mapReferences.map { (object.maps[$0.map].name, $0.valueOffset) }
    let data = try #require(object.mapDeclarations.first { $0.section == ".data" }?.definition.name)
    let bss = try #require(object.mapDeclarations.first { $0.section == ".bss" }?.definition.name)
    let rodata = try #require(
      object.mapDeclarations.first { $0.section == ".rodata" }?.definition.name)
    // total at .data+0, padding at .data+8, hits at .bss+0, limit at .rodata+0, counts map
    #expect(references.contains { $0 == (data, 0) })
    #expect(references.contains { $0 == (data, 8) })
    #expect(references.contains { $0 == (bss, 0) })
    #expect(references.contains { $0 == (rodata, 0) })
    #expect(references.contains { $0.0 == "counts" && $0.1 == nil })
    for reference in program.mapReferences where reference.valueOffset != nil {
      #expect(program.instructions[reference.instruction].immediateLoadKind == .mapValueByIndex)
    }
  }

  @Test func coreRelocationsAreRefusedPerProgram() throws {
    let path = try ObjectFixtures.compile(ObjectFixtures.coreSource, name: "core_fixture")
    let object = try BPFObject(contentsOf: path)
    #expect(object.programNames == ["core_prog", "plain_prog"])
    let error = #expect(throws: BPFObjectError.self) { try object.program(named: "core_prog") }
    guard case .coreRelocationsUnsupported(_, let program, let count) = error else {
      Issue.record("unexpected \(String(describing: error))")
      return
    }
    #expect(program == "core_prog" && count > 0)
    #expect("\(error!)".contains("CO-RE relocations are not supported"))
    #expect(try object.program(named: "plain_prog").instructions.last?.isExit == true)
  }

  @Test func legacyMapsSection() throws {
    let path = try ObjectFixtures.compile(ObjectFixtures.legacySource, name: "legacy_fixture")
    let object = try BPFObject(contentsOf: path)
    #expect(
      object.maps == [
        MapDefinition(name: "modern", type: .array, keySize: 4, valueSize: 12, maxEntries: 2),
        MapDefinition(
          name: "legacy_counts", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 5),
        MapDefinition(
          name: "legacy_hash", type: .hash, keySize: 8, valueSize: 16, maxEntries: 32, flags: 1),
      ])
    #expect(object.mapDeclarations.map(\.origin) == [.btf, .legacy, .legacy])
    #expect(object.notes.count == 1)
    #expect(object.notes.first?.contains("ignoring member 'frobnicate'") == true)
    let program = try object.program(named: "legacy_prog")
    #expect(
      program.mapReferences.map { object.maps[$0.map].name } == [
        "legacy_counts", "legacy_hash", "modern",
      ])
  }

  @Test func hostObjectIsAnotherMachine() throws {
    let path = try ObjectFixtures.compile(
      ObjectFixtures.hostSource, name: "host_fixture", target: "x86_64-linux-gnu")
    let error = #expect(throws: BPFObjectError.self) { try BPFObject(contentsOf: path) }
    #expect(error == .wrongMachine(file: path, machine: 62))
    #expect("\(error!)".contains("x86-64"))
  }
}
