// swift-tools-version: 6.0
import Foundation
import PackageDescription

let package = Package(
  name: "xdpbatch",
  platforms: [.macOS(.v13)],
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
    // Layers, bottom to top. Each imports only the layers below it.
    .target(name: "BPF"),
    .target(name: "Rewriter", dependencies: ["BPF"]),
    .target(name: "Engine", dependencies: ["BPF"]),
    // Frames: the seeded generator, the traffic templates, pcap and pcapng.
    .target(name: "Frames"),
    // Harnesses: equivalence of the two forms, and the benchmark fixtures.
    .target(name: "Check", dependencies: ["BPF", "Rewriter", "Engine", "Frames"]),
    .target(name: "Control", dependencies: ["BPF", "Rewriter", "Frames", "CBPF", "CLinux"]),
    .target(
      name: "Bench", dependencies: ["BPF", "Rewriter", "Engine", "Frames", "Control", "Datapath"]),
    // The console draws the values it is handed; LiveConsole hands it
    // Control's readings and carries out its keys through Control.
    .target(name: "Console", dependencies: ["BPF", "CNcursesw"]),
    // The software datapath: AF_XDP sockets feeding the engine, one process per interface.
    .target(name: "Datapath", dependencies: ["BPF", "Rewriter", "Engine", "Control", "CXDP"]),
    // `b` moves an interface between the kernel and the software datapath.
    .target(
      name: "LiveConsole", dependencies: ["Control", "Datapath", "Console", "Rewriter", "BPF"]),
    // Prometheus exporter: metric families over Control's counters and the software
    // datapath's status, served over HTTP.
    .target(
      name: "Exporter",
      dependencies: [
        "Control", "Datapath",
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
        "Control",
        "Bench",
        "Console",
        "LiveConsole",
        "Datapath",
        "Exporter",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      plugins: ["BuildInfo"]
    ),
    // The build's commit, for `xdpbatch --version`.
    .plugin(name: "BuildInfo", capability: .buildTool()),

    // Shared by the test targets: package layout, the built executable, seeded randomness.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    // Kernel fixtures for the suites that test Control and the layers above.
    .target(
      name: "ControlTestSupport", dependencies: ["Control", "BPF", "Frames"],
      path: "Tests/ControlTestSupport"),
    .testTarget(name: "BPFTests", dependencies: ["BPF", "CBPF", "TestSupport"]),
    .testTarget(name: "RewriterTests", dependencies: ["Rewriter", "BPF", "CBPF"]),
    .testTarget(
      name: "EngineTests", dependencies: ["Engine", "Frames", "Check", "TestSupport"],
      exclude: ["Conformance"]),
    .testTarget(name: "FramesTests", dependencies: ["Frames"]),
    // Differential testing: generated programs over the whole ISA, the two
    // engines compared (pure), and the kernel's BPF_PROG_TEST_RUN as a third
    // oracle (through Control).
    .target(name: "Differential", dependencies: ["BPF", "Engine", "Rewriter"]),
    .target(
      name: "DifferentialKernel",
      dependencies: ["BPF", "Engine", "Differential", "Control", "CLinux"]),
    .testTarget(
      name: "DifferentialTests",
      dependencies: ["Differential", "DifferentialKernel", "Engine", "BPF", "TestSupport"]),
    // The bench's fixtures (the call-style driver) without the kernel.
    .testTarget(name: "BenchTests", dependencies: ["Bench", "Engine", "BPF"]),
    .testTarget(
      name: "CheckTests",
      dependencies: ["BPF", "Rewriter", "Engine", "Frames", "Check", "TestSupport"]),
    .testTarget(
      name: "ControlTests",
      dependencies: [
        "Control", "Engine", "Frames", "Rewriter", "BPF", "CBPF", "TestSupport",
        "ControlTestSupport",
      ],
      resources: [.copy("Fixtures")]),
    // The engine against the kernel (root), and the built executable.
    .testTarget(
      name: "FidelityTests",
      dependencies: ["Engine", "Frames", "Control", "BPF", "Rewriter", "CLinux", "TestSupport"],
      exclude: ["Programs"]),
    .testTarget(
      name: "DatapathTests",
      dependencies: ["Datapath", "Control", "Engine", "Frames", "Rewriter", "BPF", "TestSupport"]),
    .testTarget(name: "CommandTests", dependencies: ["TestSupport"]),
    // The exporter: exposition, series, the built binary, a real Prometheus server.
    .testTarget(
      name: "ExporterTests",
      dependencies: [
        "Exporter", "Control", "Datapath", "BPF", "Frames", "TestSupport", "ControlTestSupport",
        .product(name: "Prometheus", package: "swift-prometheus"),
      ]),
    .testTarget(
      name: "ConsoleTests",
      dependencies: [
        "Console", "LiveConsole", "Control", "Datapath", "BPF", "Check", "CNcursesw",
        "TestSupport",
      ],
      exclude: ["__Snapshots__"]),
    // The console's live side: pacing and snapshots with an injected
    // clock and counters, and the kernel on a veth pair (root).
    .testTarget(
      name: "LiveConsoleTests",
      dependencies: [
        "LiveConsole", "Console", "Control", "Datapath", "BPF", "TestSupport",
        "ControlTestSupport",
      ]),
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
