// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "xdpbatch",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "xdpbatch", targets: ["xdpbatch"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // Layers, bottom to top. Each imports only the layers below it.
    .target(name: "BPF"),
    .target(name: "Control", dependencies: ["BPF", "CBPF", "CLinux"]),
    .target(name: "Console", dependencies: ["Control", "BPF", "CNcursesw"]),

    // C libraries, reached through small shims.
    .systemLibrary(name: "CBPF", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
    .systemLibrary(name: "CLinux"),
    // No pkgConfig: SwiftPM would drop its -D flags anyway; shim.h defines
    // NCURSES_WIDECHAR itself and the module map links ncursesw.
    .systemLibrary(name: "CNcursesw", providers: [.apt(["libncurses-dev"])]),

    .executableTarget(
      name: "xdpbatch",
      dependencies: [
        "BPF",
        "Control",
        "Console",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    .testTarget(name: "BPFTests", dependencies: ["BPF", "CBPF"]),
    .testTarget(
      name: "ControlTests", dependencies: ["Control", "BPF", "CBPF"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "ConsoleTests", dependencies: ["Console", "Control", "BPF", "CNcursesw"],
      exclude: ["__Snapshots__"]),
  ]
)
