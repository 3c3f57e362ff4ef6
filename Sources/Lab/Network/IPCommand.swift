import Foundation
import Kernel

/// Runs iproute2's `ip` for namespace and veth plumbing.
struct IPCommand {
  /// Where `ip` lives.
  static let path: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  /// Runs `ip arguments...`; throws ``PlumbingError/command`` with its
  /// standard error when it fails.
  static func run(_ arguments: [String]) throws(PlumbingError) {
    guard let path else { throw .ipMissing }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw .command(arguments: arguments, message: "\(error)")
    }
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw .command(
        arguments: arguments,
        message: String(decoding: message, as: UTF8.self).trimmingCharacters(
          in: .whitespacesAndNewlines))
    }
  }
}

/// Why namespace or veth plumbing failed.
public enum PlumbingError: Error, Sendable, CustomStringConvertible {
  /// iproute2's `ip` is not installed.
  case ipMissing
  /// `ip` failed.
  case command(arguments: [String], message: String)
  /// A namespace could not be entered.
  case enter(namespace: String, SystemCallError)

  /// A message naming the command and what it said.
  public var description: String {
    switch self {
    case .ipMissing: "iproute2's `ip` is not installed (apt-get install iproute2)"
    case .command(let arguments, let message):
      "`ip \(arguments.joined(separator: " "))` failed: \(message)"
    case .enter(let namespace, let error): "enter network namespace \(namespace): \(error)"
    }
  }
}
