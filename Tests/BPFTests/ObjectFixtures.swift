import Foundation

@testable import BPF

/// Locates the sample objects (`make samples`) and compiles the small
/// test-only BPF sources that the samples do not cover.
enum ObjectFixtures {
  /// The package root, found from this file's path.
  static let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// `build/samples` under the package root.
  static let samplesDirectory = packageRoot.appendingPathComponent("build/samples")

  /// The sample names (from `Samples/*.bpf.c`): tests that take every
  /// sample take them from the sources, so an object `make samples` did
  /// not build fails its test instead of leaving the test one sample short.
  static let sampleNames: [String] = {
    let sources =
      (try? FileManager.default.contentsOfDirectory(
        atPath: packageRoot.appendingPathComponent("Samples").path)) ?? []
    return sources.filter { $0.hasSuffix(".bpf.c") }.map { String($0.dropLast(6)) }.sorted()
  }()

  /// Paths of the compiled samples, in name order.
  static var samplePaths: [String] {
    sampleNames.map { samplesDirectory.appendingPathComponent("\($0).o").path }
  }

  static func samplePath(_ name: String) -> String {
    samplesDirectory.appendingPathComponent("\(name).o").path
  }

  static func sampleBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: samplePath(name))))
  }

  /// The clang that `make samples` uses, if there is one on PATH.
  static let clang: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    return path.split(separator: ":").map { "\($0)/clang" }
      .first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  /// Compiles C `source` with clang (`-target bpf` unless `target` says
  /// otherwise) into a temporary object named `name`.o; returns its path.
  static func compile(_ source: String, name: String, target: String = "bpf") throws -> String {
    guard let clang else { throw FixtureError.noClang }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-elf-\(ProcessInfo.processInfo.processIdentifier)")
      .appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let sourceURL = directory.appendingPathComponent("\(name).c")
    let objectURL = directory.appendingPathComponent("\(name).o")
    try source.write(to: sourceURL, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clang)
    process.arguments = [
      "-target", target, "-O2", "-g", "-I/usr/include/\(machine)-linux-gnu", "-c", sourceURL.path,
      "-o", objectURL.path,
    ]
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let message = String(
        decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      throw FixtureError.compileFailed(message)
    }
    return objectURL.path
  }

  private static var machine: String {
    var info = utsname()
    uname(&info)
    return withUnsafeBytes(of: &info.machine) {
      String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  enum FixtureError: Error {
    case noClang
    case compileFailed(String)
  }

  /// Global data (.data, .rodata, .bss), a hash map with flags, a global
  /// subprogram in .text (called with `call -1` and a symbol relocation),
  /// and programs in `xdp.frags` and `xdp/devmap`.
  static let globalsSource = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    struct {
      __uint(type, BPF_MAP_TYPE_HASH);
      __type(key, __u32);
      __type(value, const volatile __u64);
      __uint(max_entries, 16);
      __uint(map_flags, BPF_F_NO_PREALLOC);
    } counts SEC(".maps");

    typedef __u32 ifindex_t;
    struct {
      __uint(type, BPF_MAP_TYPE_DEVMAP);
      __uint(key_size, sizeof(__u32));
      __type(value, ifindex_t);
      __uint(max_entries, 8);
      __uint(pinning, 1);
    } ports SEC(".maps");

    volatile const __u32 limit = 7;
    __u64 total = 3;
    __u64 padding = 5;
    __u64 hits;

    __attribute__((noinline)) int global_helper(int x)
    {
      return x + (int)limit;
    }

    SEC("xdp.frags")
    int frags_prog(struct xdp_md *ctx)
    {
      __u32 key = 0;
      __u64 *value;

      hits++;
      padding += 2;
      total += global_helper(ctx->rx_queue_index);
      value = bpf_map_lookup_elem(&counts, &key);
      if (value)
        *value += 1;
      return XDP_PASS;
    }

    SEC("xdp/devmap")
    int devmap_prog(struct xdp_md *ctx)
    {
      return bpf_redirect_map(&ports, 0, 0);
    }

    char _license[] SEC("license") = "GPL";
    """

  /// A program with a CO-RE relocation next to one without.
  static let coreSource = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    struct xdp_md___local {
      __u32 data;
      __u32 data_end;
      __u32 data_meta;
      __u32 ingress_ifindex;
      __u32 rx_queue_index;
    } __attribute__((preserve_access_index));

    SEC("xdp")
    int core_prog(struct xdp_md *ctx)
    {
      struct xdp_md___local *local = (void *)ctx;
      return local->rx_queue_index & 3;
    }

    SEC("xdp")
    int plain_prog(struct xdp_md *ctx)
    {
      return XDP_PASS;
    }

    char _license[] SEC("license") = "GPL";
    """

  /// Legacy `struct bpf_map_def` maps in section `maps`, next to a BTF map
  /// with a member this reader does not know.
  static let legacySource = """
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>

    struct legacy_map_def {
      unsigned int type, key_size, value_size, max_entries, map_flags;
    };
    struct legacy_map_def legacy_counts SEC("maps") = {
      BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 5, 0,
    };
    struct legacy_map_def legacy_hash SEC("maps") = {
      BPF_MAP_TYPE_HASH, 8, 16, 32, 1,
    };
    struct {
      __uint(type, BPF_MAP_TYPE_ARRAY);
      __type(key, __u32);
      __type(value, __u32[3]);
      __uint(max_entries, 2);
      __uint(frobnicate, 3);
    } modern SEC(".maps");

    SEC("xdp")
    int legacy_prog(struct xdp_md *ctx)
    {
      __u32 key = 0;
      __u64 *value = bpf_map_lookup_elem(&legacy_counts, &key);
      if (value)
        *value += 1;
      bpf_map_lookup_elem(&legacy_hash, &key);
      bpf_map_lookup_elem(&modern, &key);
      return XDP_PASS;
    }

    char _license[] SEC("license") = "GPL";
    """

  /// Plain C for the host: an x86-64 (or host) relocatable object.
  static let hostSource = "int answer(void) { return 42; }\n"
}
