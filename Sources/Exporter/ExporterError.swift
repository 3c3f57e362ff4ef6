import Glibc
import NIOCore

/// Why the exporter could not serve.
public enum ExporterError: Error, Sendable, CustomStringConvertible {
  /// The address could not be bound: in use, not an address of this
  /// host, or a name that does not resolve.
  case cannotListen(ListenAddress, reason: String)
  /// The server failed after it had started listening.
  case stopped(reason: String)

  /// What went wrong and what to do about it.
  public var description: String {
    switch self {
    case .cannotListen(let address, let reason):
      "cannot listen on \(address): \(reason); choose another with --listen ADDR:PORT"
    case .stopped(let reason):
      "the exporter's HTTP server stopped: \(reason)"
    }
  }

  /// The reason a bind failed, in the operator's words (`Address already
  /// in use (errno 98)` rather than NIO's call name).
  static func reason(_ error: any Error) -> String {
    if let error = error as? IOError {
      return "\(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))"
    }
    return "\(error)"
  }
}
