import BPF
import Foundation
import Kernel

/// Talks to a running datapath through its control socket.
public struct DatapathClient: Sendable {
  /// The socket's path.
  public var path: String
  /// How long connecting, sending and each wait for the answer may take
  /// (seconds); nil waits as long as the datapath takes. A reader that
  /// must not hang on a stopped datapath (the exporter's scrape) sets it:
  /// a request that runs out fails with `EAGAIN`.
  public var timeout: Double?

  /// The client for `interface`'s datapath.
  public init(
    interface: String, state: StateDirectory = StateDirectory(), timeout: Double? = nil
  ) {
    path = ControlSocket.path(interface, state)
    self.timeout = timeout
  }

  /// The client for the socket at `path`.
  public init(path: String, timeout: Double? = nil) {
    self.path = path
    self.timeout = timeout
  }

  /// Sends one request line and returns the answer line (without newline).
  public func request(_ line: String) throws(DatapathError) -> String {
    let answer: String
    do throws(SystemCallError) {
      let connection = try UnixConnection.connect(to: path, timeout: timeout)
      try? connection.send(line: line)
      answer = try connection.readLine(limit: 1 << 20)
    } catch  where error.errno == .wouldBlock {
      throw .controlSocket(path: path, step: "wait for the answer", errno: .wouldBlock)
    } catch {
      throw .controlSocket(path: path, step: error.operation, errno: error.errno)
    }
    guard !answer.isEmpty else {
      throw .controlSocket(path: path, step: "read the answer", errno: .connectionReset)
    }
    return answer.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The datapath's status.
  public func status() throws(DatapathError) -> DatapathStatus {
    let answer = try request("status")
    do {
      return try JSONCoding.decoder().decode(DatapathStatus.self, from: Data(answer.utf8))
    } catch {
      throw .controlSocket(
        path: path, step: "decode the status (\(answer.prefix(200)))", errno: .protocolError)
    }
  }

  /// What the datapath's programs printed from sequence number `start`
  /// on: the lines it keeps, and how many it lost.
  public func trace(from start: UInt64 = 0) throws(DatapathError) -> TraceExcerpt {
    let answer = try request("trace \(start)")
    do {
      return try JSONCoding.decoder().decode(TraceExcerpt.self, from: Data(answer.utf8))
    } catch {
      throw .controlSocket(
        path: path, step: "decode the trace (\(answer.prefix(200)))", errno: .protocolError)
    }
  }
}
