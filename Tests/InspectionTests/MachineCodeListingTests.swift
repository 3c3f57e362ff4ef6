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
