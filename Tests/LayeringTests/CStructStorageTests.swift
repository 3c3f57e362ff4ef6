import Foundation
import TestSupport
import Testing

/// C structs handed to libbpf or the kernel by pointer are made one way:
/// in zeroed storage (`ZeroedStorage` in Kernel/System), so the bytes no
/// field covers are zero in every build. `var o = bpf_xdp_query_opts()`
/// zeroes the fields only: its tail padding is whatever the stack held,
/// zeros in a debug build and not in a release build, where libbpf
/// refuses the call (`bpf_xdp_query_opts has non-zero extra bytes`).
@Suite struct CStructStorageTests {
  /// What a source line must not do outside `ZeroedStorage.swift`: make
  /// an options struct, an object information struct or an AF_XDP
  /// configuration by value, or set an options struct's size by hand.
  static let byValue = [
    #"\bbpf_[a-z_]+_opts\(\)"#,
    #"\bbpf_(prog|map|link|btf)_info\(\)"#,
    #"\bxsk_(umem|socket)_config\("#,
    #"\.sz = MemoryLayout"#,
    #"\bxdp_md\(\)"#,
    #"\bsockaddr_nl\(\)"#,
    #"\bclinux_mmsghdr\(\)"#,
  ]

  /// The lines of `text` that make such a struct by value.
  static func offences(in text: String) -> [String] {
    text.split(separator: "\n").filter { line in
      let code = line.split(separator: "//", maxSplits: 1).first ?? ""
      return byValue.contains { code.range(of: $0, options: .regularExpression) != nil }
    }.map { String($0).trimmingCharacters(in: .whitespaces) }
  }

  @Test func everyCStructForLibbpfOrTheKernelIsZeroedStorage() throws {
    let sources = PackageLayout.root.appendingPathComponent("Sources")
    var found: [String] = []
    for file in SourceTargets.swiftFiles(in: sources)
    where !file.path.hasSuffix("/ZeroedStorage.swift") {
      found += Self.offences(in: file.text).map {
        "\(file.path.replacingOccurrences(of: sources.path + "/", with: "")): \($0)"
      }
    }
    #expect(found.isEmpty, "made by value, not in ZeroedStorage:\n\(found.joined(separator: "\n"))")
  }

  /// The rule catches the line that broke `prog`, `maps` and `map` in the
  /// release build, and leaves the zeroed form alone.
  @Test func theRuleCatchesTheReleaseOnlyFailure() {
    #expect(
      Self.offences(
        in:
          "    var options = bpf_xdp_query_opts()\n    options.sz = MemoryLayout<bpf_xdp_query_opts>.size"
      )
      .count == 2)
    #expect(
      Self.offences(in: "    try ZeroedStorage.options(bpf_xdp_query_opts.self) { options in")
        .isEmpty)
  }
}
