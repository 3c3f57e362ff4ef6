import Testing

@testable import BPF

/// Reads `bytes` and returns the error it must throw.
func readError(_ bytes: [UInt8], name: String = "bad.o") -> BPFObjectError? {
  do {
    let object = try BPFObject(bytes: bytes, name: name)
    _ = try object.programs()
    return nil
  } catch {
    return error
  }
}

@Suite("Bad objects end in a BPFObjectError that says what and where")
struct BPFObjectErrorTests {
  let sample: [UInt8]

  init() throws { sample = try ObjectFixtures.sampleBytes("xdp_redirect_map") }

  @Test func notELF() {
    #expect(readError(Array("hello, world".utf8)) == .notELF(file: "bad.o"))
    #expect(readError([]) == .notELF(file: "bad.o"))
  }

  @Test func truncatedHeaderAndSectionTable() {
    guard case .truncated(_, let region, _, _, _) = readError(Array(sample.prefix(40))) else {
      Issue.record("expected truncated")
      return
    }
    #expect(region == "ELF header")
    let patch = ELFPatch(sample)
    let cut = Array(sample.prefix(patch.sectionHeaderOffset + 100))
    guard case .truncated(_, let table, _, _, _) = readError(cut) else {
      Issue.record("expected truncated")
      return
    }
    #expect(table.contains("section header table"))
  }

  @Test func wrongClassAndByteOrder() {
    var bytes = sample
    bytes[4] = 1
    #expect(readError(bytes) == .unsupportedClass(file: "bad.o", elfClass: 1))
    bytes = sample
    bytes[5] = 2
    #expect(readError(bytes) == .unsupportedByteOrder(file: "bad.o", encoding: 2))
  }

  @Test func wrongMachineAndType() {
    var patch = ELFPatch(sample)
    patch.write(18, 2, 62)
    #expect(readError(patch.bytes) == .wrongMachine(file: "bad.o", machine: 62))
    patch = ELFPatch(sample)
    patch.write(16, 2, 2)
    #expect(readError(patch.bytes) == .notRelocatable(file: "bad.o", type: 2))
  }

  @Test func sectionOutOfBounds() throws {
    var patch = ELFPatch(sample)
    let xdp = try #require(patch.section(named: "xdp"))
    patch.write(patch.header(xdp) + ELFPatch.offsetField, 8, UInt64.max - 4)
    guard case .sectionOutOfBounds(_, let section, _, _) = readError(patch.bytes) else {
      Issue.record("expected sectionOutOfBounds")
      return
    }
    #expect(section == "xdp")
  }

  @Test func sectionNameOutOfBounds() throws {
    var patch = ELFPatch(sample)
    let xdp = try #require(patch.section(named: "xdp"))
    patch.write(patch.header(xdp) + ELFPatch.nameField, 4, 0xffff_fff0)
    guard case .stringOutOfBounds(_, _, let offset) = readError(patch.bytes) else {
      Issue.record("expected stringOutOfBounds")
      return
    }
    #expect(offset == 0xffff_fff0)
  }

  @Test func btfBadMagicOutOfBoundsAndBadType() throws {
    let patch = ELFPatch(sample)
    let btf = try #require(patch.contents(of: ".BTF"))
    var bytes = patch
    bytes.write(btf, 2, 0x1234)
    #expect(reason(readError(bytes.bytes))?.contains("bad magic") == true)

    bytes = patch
    bytes.write(btf + 20, 4, 0x7fff_0000)  // str_len
    #expect(reason(readError(bytes.bytes))?.contains("out of bounds") == true)

    bytes = patch
    let headerLength = Int(patch.read(btf + 4, 4))
    let typeStart = btf + headerLength + Int(patch.read(btf + 8, 4))
    bytes.write(typeStart + 4, 4, UInt64(31) << 24)  // first type: kind 31
    #expect(reason(readError(bytes.bytes))?.contains("unknown kind 31") == true)
  }

  @Test func relocationAgainstMissingSymbol() throws {
    var patch = ELFPatch(sample)
    let relocations = try #require(patch.contents(of: ".relxdp"))
    patch.write(relocations + 12, 4, 9999)  // symbol index of the first entry
    guard
      case .relocationAgainstMissingSymbol(_, let section, _, let symbol) = readError(patch.bytes)
    else {
      Issue.record("expected relocationAgainstMissingSymbol")
      return
    }
    #expect(section == "xdp" && symbol.contains("9999"))

    patch = ELFPatch(sample)
    patch.write(relocations + 12, 4, 0)  // the undefined symbol
    guard case .relocationAgainstMissingSymbol = readError(patch.bytes) else {
      Issue.record("expected relocationAgainstMissingSymbol for the undefined symbol")
      return
    }
  }

  @Test func relocationOutOfSection() throws {
    var patch = ELFPatch(sample)
    let relocations = try #require(patch.contents(of: ".relxdp"))
    patch.write(relocations, 8, 0x10_0000)
    guard case .relocationOutOfSection(_, let section, let offset, _) = readError(patch.bytes)
    else {
      Issue.record("expected relocationOutOfSection")
      return
    }
    #expect(section == "xdp" && offset == 0x10_0000)
  }

  @Test func callIntoTheMiddleOfAFunction() throws {
    var patch = ELFPatch(try ObjectFixtures.sampleBytes("xdp_calls"))
    let text = try #require(patch.contents(of: ".text"))
    let size = Int(patch.read(patch.header(try #require(patch.section(named: ".text"))) + 32, 8))
    // The first resolved bpf-to-bpf call in .text (opcode 0x85, src 1).
    let call = try #require(
      stride(from: text, to: text + size, by: 8).first {
        patch.bytes[$0] == 0x85 && patch.bytes[$0 + 1] == 0x10
      })
    patch.write(call + 4, 4, 1)
    let error = readError(patch.bytes, name: "xdp_calls.o")
    guard case .unresolvedCall(_, let program, let function, _, let reason) = error else {
      Issue.record("expected unresolvedCall, got \(String(describing: error))")
      return
    }
    #expect(program == "xdp_calls_prog" && function == "hash_macs")
    #expect(reason.contains("not the start of a function"))
  }

  @Test func messagesNameTheFile() {
    let message = "\(readError(Array("nope".utf8), name: "dir/thing.o")!)"
    #expect(message.hasPrefix("dir/thing.o: "))
  }

  /// File errors name the path and the cause in plain words, never a
  /// Foundation error domain and code.
  @Test func fileErrorsSayWhatIsWrongInPlainWords() {
    #expect(
      throws: BPFObjectError.unreadable(
        file: "/nonexistent/x.o", reason: "no such file or directory")
    ) { try BPFObject(contentsOf: "/nonexistent/x.o") }
    #expect(throws: BPFObjectError.unreadable(file: "/tmp", reason: "is a directory")) {
      try BPFObject(contentsOf: "/tmp")
    }
    #expect(throws: BPFObjectError.unreadable(file: "/dev/null", reason: "not a regular file")) {
      try BPFObject(contentsOf: "/dev/null")
    }
    #expect(throws: BPFObjectError.unreadable(file: "/tmp", reason: "is a directory")) {
      try BTF(contentsOf: "/tmp")
    }
  }

  private func reason(_ error: BPFObjectError?) -> String? {
    guard case .invalidBTF(_, let section, let reason) = error, section == ".BTF" else {
      return nil
    }
    return reason
  }
}
