import TestSupport
import Testing

/// The objdump-output parser that the comparison tests rely on.
@Suite struct ObjdumpListingTests {
  @Test func parsesSectionsBytesAndText() throws {
    let output = """

      x.o:\tfile format elf64-bpf

      Disassembly of section xdp:

      0000000000000000 <prog>:
             0:\t18 51 00 00 03 00 00 00 00 00 00 00 00 00 00 00\tld_pseudo\tr1, 0x5, 0x3
             2:\t2d 23 0e 00 00 00 00 00\tif r3 > r2 goto +0xe <prog+0x90>
             3:\t8c 00 00 00 00 00 00 00\t<unknown>

      Disassembly of section .text:

      0000000000000000 <f>:
             0:\t95 00 00 00 00 00 00 00\texit
      """
    let listing = ObjdumpListing(parsing: output)
    #expect(listing.sections.map(\.name) == ["xdp", ".text"])
    let xdp = try #require(listing.section(named: "xdp"))
    #expect(xdp.lines.map(\.index) == [0, 2, 3])
    #expect(
      xdp.lines.map(\.text) == ["ld_pseudo\tr1, 0x5, 0x3", "if r3 > r2 goto +0xe", "<unknown>"])
    #expect(xdp.bytes.count == 32)
    #expect(xdp.lines[1].bytes == [0x2d, 0x23, 0x0e, 0, 0, 0, 0, 0])
  }
}
