import BPF
import KernelTestSupport
import Testing

@testable import Engine

/// Issue 22: xdp_calls' `fold_bytes` reads its 16 bytes through a packet
/// pointer its callers pass (``PacketRanges``: ranges into subprograms),
/// and the one guard of `main`'s compare with `data_end` covers every
/// later compare with the same `data_end`, in the callees too.
@Suite(.sample("xdp_calls")) struct SubprogramRangeTests {
  @Test func foldBytesReadsItsBytesUncheckedAfterOneGuardInBothForms() throws {
    try BatchFormProofTests.eachForm(of: "xdp_calls", program: "xdp_calls_prog") {
      form, prepared in
      let slots = prepared.slots
      let ranges = PacketRanges(slots: slots, count: prepared.count + 1)
      // fold_bytes: the byte loads through R1, p[0] - p[7], one per
      // compare of p + i + 1 with data_end; two calls, so 16 per packet.
      let loads = (0..<prepared.count).filter {
        slots[$0].operation == .loadByte && slots[$0].src == 1
      }
      #expect(loads.count == 8, "\(form)")
      // Each is proven, by its own compare and by the 14 bytes main
      // proved (the second call passes eth + 6, 8 of them); the ninth
      // byte is not.
      let proven = loads.map { ranges.proves(1, slots[$0].offset, size: 1, at: $0) }
      let ninth = loads.map { ranges.proves(1, 8, size: 1, at: $0) }
      #expect(proven == Array(repeating: true, count: 8), "\(form)")
      #expect(ninth == Array(repeating: false, count: 8), "\(form)")
      // One guard, main's compare of data + 14; fold_bytes' eight compares
      // are covered by it.
      #expect(ranges.proofSites.values.map(\.bytes) == [14], "\(form)")
      #expect(ranges.coveredSites.count == 8, "\(form)")
    }
  }
}
