import Foundation
import Glibc

/// Disassembles x86-64 machine code with a tool on the machine: binutils'
/// `objdump`, else LLVM's `llvm-mc`; `nil` when neither runs.
enum MachineCodeDisassembler {
  static func x86_64(_ code: [UInt8]) -> String? {
    if let path = tool("objdump"),
      let output = PrivateFile.withContents(
        code,
        body: { file in
          run(path, ["-D", "-b", "binary", "-m", "i386:x86-64", file])
        }) ?? nil,
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

/// A file only this process can name: made in a fresh `mkdtemp` folder
/// (mode 0700, random name) under `$TMPDIR`, created with `O_EXCL` and
/// `O_NOFOLLOW`, removed with its folder afterwards. No other user can
/// plant a symlink where it is written (`prog --jited` runs as root).
enum PrivateFile {
  /// Calls `body` with the path of a file holding `bytes`; nil when the
  /// file cannot be made.
  static func withContents<Result>(_ bytes: [UInt8], body: (String) -> Result) -> Result? {
    let base = FileManager.default.temporaryDirectory.path
    var template = Array((base + "/xdpbatch-jit-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { return nil }
    let directory = String(cString: made)
    defer { rmdir(directory) }
    let path = directory + "/code.bin"
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { return nil }
    defer { unlink(path) }
    let written = bytes.withUnsafeBytes { buffer -> Bool in
      var offset = 0
      while offset < buffer.count {
        let count = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { return false }
        offset += count
      }
      return true
    }
    guard close(descriptor) == 0, written else { return nil }
    return body(path)
  }
}
