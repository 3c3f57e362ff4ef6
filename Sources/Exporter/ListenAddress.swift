/// Where the exporter listens: a host (an IPv4 or IPv6 address, or a name)
/// and a TCP port, written `ADDR:PORT` (`[ADDR]:PORT` for IPv6).
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
  /// The port the exporter listens on unless told otherwise: well outside
  /// the 9100–9999 exporter range of Prometheus's "Default port
  /// allocations" list (fully allocated), and no common exporter's.
  public static let defaultPort: UInt16 = 18064
  /// Loopback: exporting to other hosts is the operator's explicit choice.
  public static let defaultHost = "127.0.0.1"
  /// `127.0.0.1:18064`.
  public static let `default` = ListenAddress(host: defaultHost, port: defaultPort)

  /// The address or host name to bind.
  public var host: String
  /// The TCP port (0: any free port, chosen by the kernel).
  public var port: UInt16

  /// An address from its parts.
  public init(host: String, port: UInt16) {
    self.host = host
    self.port = port
  }

  /// Parses `ADDR:PORT`, `[ADDR]:PORT` or `:PORT` (loopback).
  public init(parsing text: String) throws(ListenAddressError) {
    let hostPart: Substring
    let portPart: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"),
        text[text.index(after: close)...].hasPrefix(":")
      else { throw .malformed(text) }
      hostPart = text[text.index(after: text.startIndex)..<close]
      portPart = text[text.index(close, offsetBy: 2)...]
    } else {
      guard let colon = text.lastIndex(of: ":"),
        !text[..<colon].contains(":")
      else { throw .malformed(text) }
      hostPart = text[..<colon]
      portPart = text[text.index(after: colon)...]
    }
    guard let port = UInt16(portPart) else { throw .badPort(text) }
    self.init(host: hostPart.isEmpty ? Self.defaultHost : String(hostPart), port: port)
  }

  /// `ADDR:PORT`, bracketing an IPv6 address.
  public var description: String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
  }
}

/// Why a `--listen` value was refused (a usage error).
public enum ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Not `ADDR:PORT`.
  case malformed(String)
  /// The port is not a number from 0 to 65535.
  case badPort(String)

  /// What to write instead.
  public var description: String {
    switch self {
    case .malformed(let text):
      "'\(text)' is not ADDR:PORT (write an IPv6 address as [ADDR]:PORT)"
    case .badPort(let text):
      "'\(text)' has no port from 0 to 65535 after the last ':'"
    }
  }
}
