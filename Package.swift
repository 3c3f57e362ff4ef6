// swift-tools-version: 6.0
import Foundation
import PackageDescription

let package = Package(
  name: "xdpbatch",
  products: [
    .executable(name: "xdpbatch", targets: ["xdpbatch"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    // Hummingbird's own dependencies, named for the types the exporter uses.
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.14.0"),
  ],
  targets: [
    // Layers, bottom to top. Each imports only the layers above it in this
    // list (`Tests/LayeringTests` checks it, and that no target names the
    // vocabulary of a target above it).
    // Pure Swift, no privileges: the instruction set and objects, the
    // rewriter, the engine, the equivalence check.
    .target(name: "BPF"),
    .target(name: "Rewriter", dependencies: ["BPF"]),
    .target(name: "Engine", dependencies: ["BPF"]),
    // The seeded frame generator, the traffic templates, pcap and pcapng.
    .target(name: "Frames"),
    .target(name: "Check", dependencies: ["BPF", "Rewriter", "Engine", "Frames"]),
    // Differential testing: programs generated over the whole ISA and the two
    // engines compared (pure); the kernel's BPF_PROG_TEST_RUN as the third
    // oracle below, in DifferentialKernel.
    .target(name: "Differential", dependencies: ["BPF", "Engine", "Rewriter"]),
    // The kernel seam: every system call, libbpf, libxdp, netlink and ethtool call.
    .target(name: "Kernel", dependencies: ["BPF", "CBPF", "CLinux", "CXDP"]),
    .target(
      name: "DifferentialKernel",
      dependencies: ["BPF", "Engine", "Differential", "Kernel"]),
    // Any program or map on an interface, whoever loaded it; frame capture.
    .target(name: "Inspection", dependencies: ["BPF", "Rewriter", "Frames", "Kernel"]),
    // The software datapath's process: AF_XDP sockets feeding the engine,
    // its kernel half, control socket and counters.
    .target(name: "Datapath", dependencies: ["BPF", "Rewriter", "Engine", "Kernel", "CLinux"]),
    // Attach, swap and detach on both datapaths behind one facade; records and locks.
    .target(
      name: "Deployment",
      dependencies: ["BPF", "Rewriter", "Engine", "Kernel", "Inspection", "Datapath"]),
    // The demo, the traffic generator and the benchmark fixtures.
    .target(
      name: "Lab",
      dependencies: [
        "BPF", "Rewriter", "Engine", "Frames", "Kernel", "Inspection", "Datapath", "Deployment",
      ]),
    // The console draws the values it is handed; LiveConsole hands it
    // readings and carries out its keys through Deployment.
    .target(name: "Console", dependencies: ["BPF", "CNcursesw"]),
    .target(
      name: "LiveConsole",
      dependencies: [
        "BPF", "Rewriter", "Kernel", "Inspection", "Datapath", "Deployment", "Lab", "Console",
      ]),
    // Prometheus exporter: metric families over the attachments' counters and the
    // software datapaths' status, served over HTTP.
    .target(
      name: "Exporter",
      dependencies: [
        "BPF", "Kernel", "Datapath", "Deployment",
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ]),

    // C libraries, reached through small shims.
    .systemLibrary(name: "CBPF", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
    .systemLibrary(name: "CLinux"),
    .systemLibrary(name: "CXDP", providers: [.apt(["libxdp-dev"])]),
    // No pkgConfig: SwiftPM would drop its -D flags anyway; shim.h defines
    // NCURSES_WIDECHAR itself and the module map links ncursesw.
    .systemLibrary(name: "CNcursesw", providers: [.apt(["libncurses-dev"])]),

    .executableTarget(
      name: "xdpbatch",
      dependencies: [
        "BPF",
        "Rewriter",
        "Engine",
        "Frames",
        "Check",
        "Kernel",
        "Inspection",
        "Datapath",
        "Deployment",
        "Lab",
        "Console",
        "LiveConsole",
        "Exporter",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      plugins: ["BuildInfo"]
    ),
    // The build's commit, for `xdpbatch --version`.
    .plugin(name: "BuildInfo", capability: .buildTool()),

    // Shared by the test targets: package layout, the built executable, seeded randomness.
    .target(name: "TestSupport", dependencies: ["BPF"], path: "Tests/TestSupport"),
    // Kernel fixtures for the suites that reach the kernel: whether BPF can
    // be used here, a veth pair in a namespace of its own.
    .target(
      name: "KernelTestSupport",
      dependencies: ["BPF", "Frames", "Kernel", "Deployment", "Lab", "TestSupport"],
      path: "Tests/KernelTestSupport"),
    .testTarget(name: "BPFTests", dependencies: ["BPF", "CBPF", "TestSupport"]),
    .testTarget(name: "RewriterTests", dependencies: ["Rewriter", "BPF", "CBPF"]),
    .testTarget(
      name: "EngineTests", dependencies: ["Engine", "Frames", "Check", "TestSupport"],
      exclude: ["Conformance"]),
    .testTarget(name: "FramesTests", dependencies: ["Frames"]),
    .testTarget(
      name: "DifferentialTests",
      dependencies: ["Differential", "DifferentialKernel", "Engine", "BPF", "TestSupport"]),
    .testTarget(
      name: "CheckTests",
      dependencies: ["BPF", "Rewriter", "Engine", "Frames", "Check", "TestSupport"]),
    .testTarget(
      name: "KernelTests",
      dependencies: ["BPF", "Frames", "Kernel", "CBPF", "TestSupport", "KernelTestSupport"]),
    .testTarget(
      name: "InspectionTests",
      dependencies: [
        "BPF", "Engine", "Frames", "Kernel", "Inspection", "Deployment", "Lab", "TestSupport",
        "KernelTestSupport",
      ],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "DeploymentTests",
      dependencies: [
        "BPF", "Rewriter", "Engine", "Frames", "Kernel", "Inspection", "Datapath", "Deployment",
        "Lab", "CBPF", "TestSupport", "KernelTestSupport",
      ]),
    // The lab: the samples' rule, the demo, the bench's fixtures (the call-style driver).
    .testTarget(
      name: "LabTests",
      dependencies: [
        "BPF", "Rewriter", "Engine", "Frames", "Kernel", "Deployment", "Lab", "TestSupport",
        "KernelTestSupport",
      ]),
    // The engine against the kernel (root), and the built executable.
    .testTarget(
      name: "FidelityTests",
      dependencies: [
        "Engine", "Frames", "Kernel", "Deployment", "Lab", "BPF", "Rewriter", "CLinux",
        "TestSupport",
      ],
      exclude: ["Programs"]),
    .testTarget(
      name: "DatapathTests",
      dependencies: [
        "BPF", "Rewriter", "Engine", "Frames", "Kernel", "Inspection", "Datapath", "Deployment",
        "Lab", "TestSupport", "KernelTestSupport",
      ]),
    .testTarget(name: "CommandTests", dependencies: ["TestSupport"]),
    // The exporter: exposition, series, the built binary, a real Prometheus server.
    .testTarget(
      name: "ExporterTests",
      dependencies: [
        "Exporter", "Kernel", "Datapath", "Deployment", "Lab", "BPF", "Frames", "TestSupport",
        "KernelTestSupport", .product(name: "Prometheus", package: "swift-prometheus"),
      ]),
    .testTarget(
      name: "ConsoleTests",
      dependencies: [
        "Console", "LiveConsole", "Kernel", "Inspection", "Datapath", "Deployment", "Lab", "BPF",
        "Check", "CNcursesw", "TestSupport",
      ],
      exclude: ["__Snapshots__"]),
    // The console's live side: pacing and snapshots with an injected
    // clock and counters, and the kernel on a veth pair (root).
    .testTarget(
      name: "LiveConsoleTests",
      dependencies: [
        "LiveConsole", "Console", "Kernel", "Inspection", "Datapath", "Deployment", "Lab", "BPF",
        "TestSupport", "KernelTestSupport",
      ]),
    // The layering of every target: imports only from below, no vocabulary from above.
    .testTarget(name: "LayeringTests", dependencies: ["TestSupport"]),
  ]
)

// `make fuzz` only: libFuzzer harnesses for the object reader and the
// differential fuzzer (engines, batch form, kernel),
// built with -sanitize=fuzzer,address (their `main` is libFuzzer's driver, so
// the ordinary build must not see them).
if ProcessInfo.processInfo.environment["XDPBATCH_FUZZ"] != nil {
  package.targets += [
    .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
    .executableTarget(
      name: "FuzzObject", dependencies: ["BPF", "Engine", "Check", "FuzzSupport"],
      path: "Fuzz/FuzzObject"),
    .executableTarget(
      name: "FuzzDifferential",
      dependencies: ["BPF", "Engine", "Differential", "DifferentialKernel", "FuzzSupport"],
      path: "Fuzz/FuzzDifferential"),
  ]
}
