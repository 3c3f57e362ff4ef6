import Foundation
import Glibc
import TestSupport
import Testing

/// The clang that compiles the test's BPF object: the toolchain's, else Debian's.
enum BPFClang {
  static let path =
    ((LLVMToolchain.found.map { [$0.tool("clang").path] } ?? []) + ["/usr/bin/clang"])
    .first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Standard output and standard error on one pipe (`2>&1 | less`, a log
/// file, a CI job): every error is a line of its own, after everything
/// the command printed before it. Standard output is fully buffered on a
/// pipe and written out in 4 KiB blocks; an error written to (unbuffered)
/// standard error between two blocks used to run on from the middle of a
/// line: issue 24's `…cannot be boundedxdpbatch: error: …` is `check` on
/// an object whose refused programs fill more than 4 KiB, when the block
/// ends right after a refusal's last word.
@Suite(
  "one stream", .enabled(if: Command.ready, Command.missingReason),
  .enabled(if: BPFClang.path != nil, "no clang to compile the test's object"))
struct OneStreamTests {

  /// 24 XDP programs, each passing a pointer into its frame down nine
  /// bpf-to-bpf calls: past the verifier's eight frames, so the rewriter
  /// cannot bound the callee's reach and refuses every variant of every
  /// program (`StackHazard.passedToSubprogram`); `check` prints a line
  /// for each and then fails with one error ("nothing compared").
  static let source: String = {
    var text = """
      #include "xdp_common.h"

      static __noinline int level9(__u64 *slot, int n) { return (*slot + n) & 3; }

      """
    for level in stride(from: 8, through: 1, by: -1) {
      text += """
        static __noinline int level\(level)(__u64 *slot, int n)
        {
        \t*slot += n;
        \treturn level\(level + 1)(slot, n + 1) ^ n;
        }

        """
    }
    for program in 0..<24 {
      text += """
        SEC("xdp") int xdp_deep_\(program)(struct xdp_md *ctx)
        {
        \t__u64 slot = ctx->rx_queue_index + \(program);
        \treturn level1(&slot, \(program + 1)) & 1 ? XDP_PASS : XDP_DROP;
        }

        """
    }
    return text + "char _license[] SEC(\"license\") = \"GPL\";\n"
  }()

  /// The object compiled into a fresh temporary directory.
  static func object() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xbt-one-stream-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
    let source = directory.appendingPathComponent("deep.bpf.c")
    try Self.source.write(to: source, atomically: true, encoding: .utf8)
    let object = directory.appendingPathComponent("deep.o").path
    let compiled = try runProcess(
      URL(fileURLWithPath: try #require(BPFClang.path)),
      [
        "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu",
        "-I/usr/include/aarch64-linux-gnu", "-I",
        PackageLayout.root.appendingPathComponent("Samples").path,
        "-c", source.path, "-o", object,
      ])
    try #require(compiled.status == 0, "clang: \(compiled.errors)")
    return object
  }

  @Test(arguments: [[], ["--json"]])
  func anErrorAfterMoreThanABlockOfOutputIsALineOfItsOwn(_ options: [String]) throws {
    let object = try Self.object()
    defer {
      try? FileManager.default.removeItem(atPath: (object as NSString).deletingLastPathComponent)
    }
    let arguments = ["check", object] + options
    let apart = try Command.run(arguments)
    #expect(apart.status == 1)
    let error = "xdpbatch: error: \(object): nothing compared: the rewriter refused every variant\n"
    #expect(apart.errors == error)
    // More than one block of the pipe's buffer before the error.
    #expect(apart.output.utf8.count > 4096)
    #expect(apart.output.contains("the callee's reach into this frame cannot be bounded"))

    let together = try runProcessOnOnePipe(try #require(BuiltXDPBatch.url), arguments)
    #expect(together.status == 1)
    let errorLines = together.text.split(separator: "\n").filter { $0.contains("xdpbatch: error:") }
    #expect(errorLines.count == 1)
    #expect(errorLines.allSatisfy { $0.hasPrefix("xdpbatch: error: ") }, "\(errorLines)")
    #expect(together.text == apart.output + error)
  }
}
