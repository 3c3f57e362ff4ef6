import Foundation
import Testing

@testable import Inspection

/// The JIT listing's hex rows: 16 bytes a row after a six-column hex
/// offset, the last row short.
@Suite struct MachineCodeListingTests {
  @Test func rowsOfSixteenBytesAfterTheirOffset() {
    let listing = MachineCodeListing(Array(0..<20))
    #expect(
      listing.hexRows == [
        "     0: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        "    10: 10 11 12 13",
      ])
  }
}

/// `prog --jited` runs as root and hands the JIT image to a disassembler
/// through a file: it wrote `$TMPDIR/xdpbatch-jit-<pid>.bin` with
/// `Data.write(to:)`, which follows a symlink planted there, and replaced
/// the file the link named (issue 23). The file is now made in a fresh
/// private folder with `O_EXCL | O_NOFOLLOW`.
@Suite struct MachineCodeFileTests {
  @Test func aSymlinkPlantedAtTheOldNameIsNotFollowed() throws {
    let temporary = FileManager.default.temporaryDirectory
    let victimFolder = temporary.appendingPathComponent(
      "xdpbatch-victim-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))")
    try FileManager.default.createDirectory(at: victimFolder, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(at: victimFolder) }
    let victim = victimFolder.appendingPathComponent("shadow")
    let original = Data("root:secret:19000:0:99999:7:::\n".utf8)
    try original.write(to: victim)
    let planted = temporary.appendingPathComponent("xdpbatch-jit-\(getpid()).bin")
    try? FileManager.default.removeItem(at: planted)
    try FileManager.default.createSymbolicLink(at: planted, withDestinationURL: victim)
    defer { try? FileManager.default.removeItem(at: planted) }

    let disassembly = MachineCodeDisassembler.x86_64([0x90, 0xc3])  // nop; ret

    #expect(try Data(contentsOf: victim) == original)
    #expect(
      try FileManager.default.destinationOfSymbolicLink(atPath: planted.path) == victim.path)
    if MachineCodeDisassembler.tool("objdump") != nil
      || MachineCodeDisassembler.tool("llvm-mc") != nil
    {
      let text = try #require(disassembly)
      #expect(text.contains("nop"))
      #expect(text.contains("ret"))
    }
  }

  @Test func theFileAndItsFolderAreGoneAfterwards() throws {
    var seen: String?
    let result = PrivateFile.withContents([1, 2, 3]) { path -> [UInt8] in
      seen = path
      let attributes = try? FileManager.default.attributesOfItem(
        atPath: (path as NSString).deletingLastPathComponent)
      #expect((attributes?[.posixPermissions] as? Int) == 0o700)
      return (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
    }
    #expect(result == [1, 2, 3])
    let path = try #require(seen)
    #expect(!FileManager.default.fileExists(atPath: path))
    #expect(!FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent))
  }
}
