import BPF
import Check
import Engine
import Foundation
import Rewriter
import Testing

/// `xdpbatch check`'s engine on every bundled sample: each batch form
/// (strategy x bound) gives every packet the verdict, bytes and redirect
/// target the per-packet form gives it, and leaves the same maps.
@Suite struct SampleEquivalenceTests {
  /// Packets per sample in the test suite (debug build). README's
  /// "Rewriter figures" gives the longer release run.
  static let packets = 12_000

  @Test func everySampleIsCompiled() throws { try Samples.expectEveryOneCompiled() }

  @Test(arguments: Samples.all)
  func everyVariantMatchesPerPacket(_ sample: URL) throws {
    let object = try BPFObject(contentsOf: sample.path)
    let check = EquivalenceCheck(packets: Self.packets, seed: 0x5a3d_17)
    for program in try object.programs() {
      let result = try check.run(program, maps: object.maps)
      let calls = program.instructions.contains {
        $0.isHelperCall && $0.immediate == HelperFunction.tailCall.rawValue
      }
      if calls {
        #expect(result.isRefused, "\(program.name) calls bpf_tail_call and must be refused")
        continue
      }
      #expect(result.packets == Self.packets)
      #expect(result.variants.count == BatchVariant.all.count)
      for outcome in result.variants {
        #expect(
          outcome.refusal == nil,
          "\(program.name) \(outcome.variant): \(String(describing: outcome.refusal))")
        #expect(outcome.packets == Self.packets, "\(program.name) \(outcome.variant)")
        #expect(
          outcome.mismatches == 0,
          "\(sample.lastPathComponent) \(program.name) \(outcome.variant): \(String(describing: outcome.firstDifference))"
        )
      }
    }
  }

  @Test func tailCallIsRefusedWithItsIndex() throws {
    let object = try BPFObject(contentsOf: Samples.named("xdp_tailcall.o").path)
    let program = try object.program(named: "xdp_tailcall_prog")
    let index = try #require(
      program.instructions.firstIndex {
        $0.isHelperCall && $0.immediate == HelperFunction.tailCall.rawValue
      })
    let result = try EquivalenceCheck(packets: 10).run(program, maps: object.maps)
    #expect(result.isRefused)
    for outcome in result.variants {
      #expect(outcome.refusal == .tailCall(index: index))
      #expect(
        outcome.refusal?.description.contains("instruction \(index) calls bpf_tail_call") == true)
    }
  }

  /// The samples exercise what they are there for: every verdict, and
  /// redirects with targets, reach the comparison.
  @Test func samplesCoverEveryVerdictAndRedirects() throws {
    var seen = Set<XDPAction>()
    for name in ["xdp_classify.o", "xdp_redirect_map.o", "xdp1.o", "xdp_tx.o"] {
      let object = try BPFObject(contentsOf: Samples.named(name).path)
      for program in try object.programs() {
        let result = try EquivalenceCheck(packets: 2_000, variants: []).run(
          program, maps: object.maps)
        for action in XDPAction.allCases where result.actions[action].packets > 0 {
          seen.insert(action)
        }
      }
    }
    #expect(seen == Set(XDPAction.allCases))
  }
}
