import Foundation

/// Disassembles x86-64 machine code with a tool on the machine: binutils'
/// `objdump`, else LLVM's `llvm-mc`; `nil` when neither runs.
enum MachineCodeDisassembler {
  static func x86_64(_ code: [UInt8]) -> String? {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xdpbatch-jit-\(getpid()).bin")
    defer { try? FileManager.default.removeItem(at: file) }
    guard (try? Data(code).write(to: file)) != nil else { return nil }
    if let path = tool("objdump"),
      let output = run(path, ["-D", "-b", "binary", "-m", "i386:x86-64", file.path]),
      let start = output.range(of: "<.data>:\n")
    {
      return String(output[start.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    if let path = tool("llvm-mc") {
      let hex = code.map { String(format: "0x%02x", $0) }.joined(separator: " ")
      return run(path, ["--disassemble", "-triple=x86_64"], input: hex)
    }
    return nil
  }

  static func tool(_ name: String) -> String? {
    ["/usr/bin/", "/usr/local/bin/", "/opt/swift/usr/bin/"].map { $0 + name }.first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
  }

  static func run(_ path: String, _ arguments: [String], input: String? = nil) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let inputPipe = Pipe()
    if input != nil { process.standardInput = inputPipe }
    guard (try? process.run()) != nil else { return nil }
    if let input {
      inputPipe.fileHandleForWriting.write(Data(input.utf8))
      try? inputPipe.fileHandleForWriting.close()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self)
  }
}
