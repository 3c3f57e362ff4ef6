import Foundation

/// The Swift toolchain's LLVM tools (`clang`, `llvm-objdump`), which tests
/// use as the reference for BPF assembly and disassembly.
///
/// Looks in `$XDPBATCH_LLVM_BIN`, then next to the `clang` on `PATH`, then
/// in `/opt/swift/usr/bin`, and accepts only LLVM 19 or newer (older ones,
/// such as Debian's `/usr/bin/llvm-objdump` 14, print another syntax).
public struct LLVMToolchain: Sendable {
  /// The directory holding `clang` and `llvm-objdump`.
  public var directory: URL

  /// The toolchain found on this machine, if any.
  public static let found: LLVMToolchain? = locate()

  /// Why tests that need the toolchain are skipped, for `.enabled(if:)`.
  public static let missing =
    "no LLVM >= 19 clang + llvm-objdump (set XDPBATCH_LLVM_BIN or install the Swift toolchain)"

  public static let minimumMajorVersion = 19

  private static func locate() -> LLVMToolchain? {
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["XDPBATCH_LLVM_BIN"] {
      candidates.append(explicit)
    }
    for entry in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
      candidates.append(String(entry))
    }
    candidates.append("/opt/swift/usr/bin")
    for path in candidates {
      let toolchain = LLVMToolchain(directory: URL(fileURLWithPath: path))
      if toolchain.isUsable { return toolchain }
    }
    return nil
  }

  private var isUsable: Bool {
    let manager = FileManager.default
    guard manager.isExecutableFile(atPath: tool("clang").path),
      manager.isExecutableFile(atPath: tool("llvm-objdump").path),
      let version = try? run("llvm-objdump", ["--version"]),
      let major = Self.majorVersion(in: version)
    else { return false }
    return major >= Self.minimumMajorVersion
  }

  /// The major version in `llvm-objdump --version` output ("LLVM version 21.0.0").
  public static func majorVersion(in text: String) -> Int? {
    guard let range = text.range(of: "LLVM version ") else { return nil }
    return Int(text[range.upperBound...].prefix { $0.isNumber })
  }

  public func tool(_ name: String) -> URL { directory.appendingPathComponent(name) }

  /// Runs a tool and returns its standard output; throws when it fails.
  public func run(_ name: String, _ arguments: [String]) throws -> String {
    let result = try runProcess(tool(name), arguments)
    guard result.status == 0 else {
      throw ToolFailure(
        command: ([name] + arguments).joined(separator: " "), message: result.errors)
    }
    return result.output
  }

  /// Disassembles an object with `llvm-objdump -d`, in hexadecimal
  /// (objdump's default) or decimal.
  public func disassemble(_ object: URL, hexadecimal: Bool = true) throws -> ObjdumpListing {
    let style = hexadecimal ? "--print-imm-hex" : "--no-print-imm-hex"
    return ObjdumpListing(parsing: try run("llvm-objdump", ["-d", "-z", style, object.path]))
  }

  /// Assembles raw instruction bytes into a BPF object whose `.text` holds
  /// exactly those bytes (as `.byte` directives, so that no instruction is
  /// re-encoded by the assembler), in a fresh temporary directory.
  public func object(containing bytes: [UInt8], named name: String = "raw") throws -> URL {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("xdpbatch-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var source = "\t.text\n\t.globl \(name)\n\(name):\n"
    var index = 0
    while index < bytes.count {
      let chunk = bytes[index..<min(index + 8, bytes.count)]
      source +=
        "\t.byte " + chunk.map { "0x" + String($0, radix: 16) }.joined(separator: ",") + "\n"
      index += 8
    }
    let assembly = directory.appendingPathComponent("\(name).s")
    let object = directory.appendingPathComponent("\(name).o")
    try source.write(to: assembly, atomically: true, encoding: .utf8)
    _ = try run("clang", ["-target", "bpf", "-c", assembly.path, "-o", object.path])
    return object
  }
}

/// A toolchain command that exited with a failure status.
public struct ToolFailure: Error, CustomStringConvertible {
  /// The command line.
  public var command: String
  /// What it printed on standard error.
  public var message: String
  /// `COMMAND failed: MESSAGE`.
  public var description: String { "\(command) failed: \(message)" }
}
