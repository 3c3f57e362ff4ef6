import BPF
import KernelTestSupport
import Rewriter
import TestSupport
import Testing

@testable import Engine

/// Issue 22: xdp1's parse at `data + nh_off` (a variable offset) is proven
/// by the program's own compares with `data_end` (``PacketRanges``) in the
/// batch form as in the per-packet form, so the batch form does not keep
/// the checks the per-packet form left out.
@Suite(.sample("xdp1")) struct BatchFormProofTests {
  /// Runs `body` on `program` of the sample `sample` prepared in its
  /// per-packet form and in its batch form (the rewriter's, 64 records).
  static func eachForm(
    of sample: String, program name: String, _ body: (Form, PreparedProgram) throws -> Void
  ) throws {
    let object = try BPFObject(contentsOf: PackageLayout.sample(sample))
    let program = try object.program(named: name)
    let batch = try BatchTrampoline(batchSize: 64).rewrite(program).program
    let machine = try Machine(
      maps: object.maps, configuration: MachineConfiguration(engine: .interpreter))
    for (form, source) in [(Form.perPacket, program), (Form.batch, batch)] {
      try body(form, try machine.prepare(source, form: form))
    }
  }

  @Test func xdp1ProvesItsVariableOffsetsInBothForms() throws {
    try Self.eachForm(of: "xdp1", program: "xdp_prog1") { form, prepared in
      let ranges = PacketRanges(slots: prepared.slots, count: prepared.count + 1)
      // The IPv4 header's 20 bytes and the IPv6 header's 40, each from
      // data + nh_off: covered by the guard of the Ethernet header's
      // compare with the same data_end, as nh_off >= 0.
      let sites = ranges.coveredSites.values.filter(\.variable).map(\.bytes).sorted()
      #expect(sites == [20, 40], "\(form)")
      #expect(ranges.proofSites.values.filter(\.variable).isEmpty, "\(form)")
    }
  }
}
