import Foundation
import Glibc
import TestSupport

/// A listening TCP socket on loopback, held by the test (a port in use).
struct LoopbackListener {
  let descriptor: Int32
  let port: UInt16

  /// Binds 127.0.0.1 on a port the kernel chooses, and listens.
  init() throws {
    let descriptor = socket(
      AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, size) }
    }
    guard bound == 0, listen(descriptor, 1) == 0 else {
      Glibc.close(descriptor)
      throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
    var length = size
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        getsockname(descriptor, $0, &length)
      }
    }
    self.descriptor = descriptor
    port = UInt16(bigEndian: address.sin_port)
  }

  /// A port that was free a moment ago (for servers that cannot bind port 0
  /// and report it).
  static func freePort() throws -> UInt16 {
    let listener = try LoopbackListener()
    listener.close()
    return listener.port
  }

  func close() { Glibc.close(descriptor) }
}

/// A program started in the background, its standard output read line by
/// line; stopped (SIGTERM, then SIGKILL) by ``stop()``.
final class BackgroundProcess: @unchecked Sendable {
  let process = Process()
  private let output = Pipe()
  private let lines = LineBuffer()

  init(_ executable: String, _ arguments: [String], errorsToOutput: Bool = true) throws {
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = errorsToOutput ? output : FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    let lines = self.lines
    output.fileHandleForReading.readabilityHandler = { handle in
      lines.append(handle.availableData)
    }
    try process.run()
  }

  /// Everything printed so far.
  var printed: String { lines.text }

  /// Waits up to `seconds` for a printed line that `match` turns into a value.
  func waitForLine<T>(seconds: Double, _ match: (String) -> T?) -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      for line in printed.split(separator: "\n") {
        if let value = match(String(line)) { return value }
      }
      if !process.isRunning { return nil }
      Thread.sleep(forTimeInterval: 0.05)
    }
    return nil
  }

  /// Stops the process and waits for it.
  func stop() {
    if process.isRunning {
      kill(process.processIdentifier, SIGTERM)
      let deadline = Date().addingTimeInterval(5)
      while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    output.fileHandleForReading.readabilityHandler = nil
  }
}

/// Bytes arriving from a pipe, as text.
final class LineBuffer: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()

  func append(_ more: Data) {
    lock.lock()
    data.append(more)
    lock.unlock()
  }

  var text: String {
    lock.lock()
    defer { lock.unlock() }
    return String(decoding: data, as: UTF8.self)
  }
}

/// `GET url` with `accept`, through curl (present wherever the tests run
/// Prometheus): status, content type and body.
func httpGet(_ url: String, accept: String? = nil) throws -> (
  status: Int, contentType: String, body: String
) {
  var arguments = [
    "-s", "-S", "--max-time", "5", "-o", "-", "-w", "\n%{http_code} %{content_type}",
  ]
  if let accept { arguments += ["-H", "Accept: \(accept)"] }
  let result = try runProcess(URL(fileURLWithPath: curlPath ?? "/usr/bin/curl"), arguments + [url])
  let text = result.output
  guard let split = text.range(of: "\n", options: .backwards) else { return (0, "", text) }
  let trailer = text[split.upperBound...].split(separator: " ", maxSplits: 1)
  return (
    Int(trailer.first ?? "") ?? 0, trailer.count > 1 ? String(trailer[1]) : "",
    String(text[..<split.lowerBound])
  )
}

/// Where curl is, if installed.
let curlPath: String? = ["/usr/bin/curl", "/bin/curl"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}
