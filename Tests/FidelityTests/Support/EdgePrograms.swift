import BPF
import Foundation
import Kernel
import TestSupport
import Testing

/// Programs/edges.bpf.c, compiled once with the toolchain's clang into a
/// temporary directory: helper edge cases the samples do not reach.
enum EdgePrograms {
  static let source = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Support
    .deletingLastPathComponent()  // FidelityTests
    .appendingPathComponent("Programs/edges.bpf.c")

  static let clang: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    return (path.split(separator: ":").map(String.init) + ["/opt/swift/usr/bin"])
      .map { $0 + "/clang" }
      .first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  /// The compiled object's programs, or why there are none (a failure
  /// `KernelFidelityTests.everyInputIsCompiledAndRead` reports).
  static let compiled: Result<[SampleProgram], CompileFailure> = compile()

  /// The programs to compare; none when the object did not build.
  static var all: [SampleProgram] {
    switch compiled {
    case .success(let programs): programs
    case .failure: []
    }
  }

  struct CompileFailure: Error, CustomStringConvertible {
    var description: String
  }

  private static func compile() -> Result<[SampleProgram], CompileFailure> {
    guard let clang else { return .failure(CompileFailure(description: "no clang on PATH")) }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-edges-\(getpid())")
    let output = directory.appendingPathComponent("edges.o").path
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      let process = Process()
      process.executableURL = URL(fileURLWithPath: clang)
      var architecture = utsname()
      uname(&architecture)
      let machine = withUnsafeBytes(of: architecture.machine) {
        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
      }
      process.arguments = [
        "-target", "bpf", "-O2", "-g", "-Wall", "-I/usr/include/\(machine)-linux-gnu",
        "-I" + PackageLayout.root.appendingPathComponent("Samples").path,
        "-c", source.path, "-o", output,
      ]
      try process.run()
      process.waitUntilExit()
      guard process.terminationStatus == 0 else {
        return .failure(CompileFailure(description: "clang failed on \(source.path)"))
      }
      let object = try BPFObject(contentsOf: output)
      return .success(
        object.programEntries.filter(\.isXDP).map { SampleProgram(path: output, program: $0.name) })
    } catch {
      return .failure(CompileFailure(description: "cannot build \(source.path): \(error)"))
    }
  }
}
