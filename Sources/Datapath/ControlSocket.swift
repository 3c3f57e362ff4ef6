import BPF
import Control
import Foundation
import Glibc

/// The datapath's control socket, `/run/xdpbatch/IFACE.sock` (root only,
/// mode 0600): one request line per connection, one JSON line back.
///
/// Requests: `status`; `swap` (toggle the form); `form per-packet` or
/// `form batch`; `stop`. Answers to `swap`/`form`/`stop` are
/// `{"ok": true, "form": F}` or `{"ok": false, "error": TEXT}`.
final class ControlSocket: @unchecked Sendable {
  let path: String
  private let descriptor: Int32

  /// The control socket's path for `interface`.
  static func path(_ interface: String, _ state: StateDirectory) -> String {
    state.path + "/" + interface + ".sock"
  }

  /// Binds and listens at `path`. A socket file nobody answers on (a dead
  /// datapath's) is replaced; a live one is refused.
  init(path: String) throws(DatapathError) {
    self.path = path
    let directory = (path as NSString).deletingLastPathComponent
    if access(directory, F_OK) != 0, mkdir(directory, 0o755) != 0, errno != EEXIST {
      throw .controlSocket(path: path, step: "create \(directory)", code: errno)
    }
    if access(path, F_OK) == 0 {
      if (try? DatapathClient(path: path).request("status")) != nil {
        throw .controlSocket(
          path: path, step: "bind (a datapath already answers there)", code: EADDRINUSE)
      }
      unlink(path)
    }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .controlSocket(path: path, step: "socket", code: errno) }
    var address = try Self.address(path)
    let previous = umask(0o177)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    umask(previous)
    guard bound == 0, chmod(path, 0o600) == 0, listen(fd, 16) == 0 else {
      let code = errno
      Glibc.close(fd)
      throw .controlSocket(path: path, step: "bind", code: code)
    }
    descriptor = fd
  }

  deinit { close() }

  static func address(_ path: String) throws(DatapathError) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else {
      throw .controlSocket(path: path, step: "name (too long)", code: ENAMETOOLONG)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    return address
  }

  private var closed = false

  /// Stops accepting and removes the socket file.
  func close() {
    guard !closed else { return }
    closed = true
    shutdown(descriptor, Int32(SHUT_RDWR))
    Glibc.close(descriptor)
    unlink(path)
  }

  /// Answers requests on a thread of its own until closed. Answers are
  /// sent with `MSG_NOSIGNAL`: a client that gave up waiting (the
  /// exporter's short timeout, on a datapath that was stopped) must not
  /// kill the datapath with `SIGPIPE`.
  func serve(_ datapath: SoftwareDatapath) {
    let thread = Thread { [self] in
      while true {
        let client = accept(descriptor, nil, nil)
        if client < 0 {
          if errno == EINTR { continue }
          return
        }
        answer(client, datapath)
      }
    }
    thread.name = "xdpbatch control"
    thread.start()
  }

  private func answer(_ client: Int32, _ datapath: SoftwareDatapath) {
    defer { Glibc.close(client) }
    var buffer = [UInt8](repeating: 0, count: 256)
    var length = 0
    while length < buffer.count {
      let got = buffer.withUnsafeMutableBytes {
        read(client, $0.baseAddress! + length, $0.count - length)
      }
      if got <= 0 { break }
      length += got
      if buffer[..<length].contains(UInt8(ascii: "\n")) { break }
    }
    let line = String(decoding: buffer[..<length], as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let words = line.split(separator: " ").map(String.init)
    var reply: String
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    switch words.first {
    case "status":
      reply = (try? String(decoding: encoder.encode(datapath.status()), as: UTF8.self)) ?? "{}"
    case "swap", "form":
      var target: Form?
      if words.first == "form" {
        guard words.count == 2, let form = Form(rawValue: words[1]) else {
          reply = Self.failure("form needs per-packet or batch")
          break
        }
        target = form
      }
      do {
        let form = try datapath.swap(to: target)
        reply = "{\"ok\":true,\"form\":\"\(form.rawValue)\"}"
      } catch {
        reply = Self.failure(error.description)
      }
    case "stop":
      reply = "{\"ok\":true,\"form\":\"\(datapath.form.rawValue)\"}"
      _ = (reply + "\n").withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
      datapath.stop()
      return
    default:
      reply = Self.failure("unknown request \"\(line)\" (status, swap, form F, stop)")
    }
    _ = (reply + "\n").withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
  }

  private static func failure(_ message: String) -> String {
    let data = (try? JSONEncoder().encode(["error": message])) ?? Data("{}".utf8)
    return "{\"ok\":false," + String(decoding: data.dropFirst(), as: UTF8.self)
  }
}

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

  /// Sets `timeout` on `fd` for sending (which bounds `connect`) and receiving.
  private func limit(_ fd: Int32) {
    guard let timeout else { return }
    let whole = max(timeout, 0.001)
    var value = timeval(
      tv_sec: Int(whole), tv_usec: Int((whole - Double(Int(whole))) * 1_000_000))
    for option in [SO_SNDTIMEO, SO_RCVTIMEO] {
      _ = setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
    }
  }

  /// Sends one request line and returns the answer line (without newline).
  public func request(_ line: String) throws(DatapathError) -> String {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .controlSocket(path: path, step: "socket", code: errno) }
    defer { Glibc.close(fd) }
    limit(fd)
    var address = try ControlSocket.address(path)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else { throw .controlSocket(path: path, step: "connect", code: errno) }
    _ = (line + "\n").withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var answer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
      if got < 0, errno == EAGAIN || errno == EWOULDBLOCK {
        throw .controlSocket(path: path, step: "wait for the answer", code: EAGAIN)
      }
      if got <= 0 { break }
      answer += chunk[..<got]
      if answer.last == UInt8(ascii: "\n") { break }
    }
    guard !answer.isEmpty else {
      throw .controlSocket(path: path, step: "read the answer", code: ECONNRESET)
    }
    return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The datapath's status.
  public func status() throws(DatapathError) -> DatapathStatus {
    let answer = try request("status")
    do {
      return try JSONDecoder().decode(DatapathStatus.self, from: Data(answer.utf8))
    } catch {
      throw .controlSocket(
        path: path, step: "decode the status (\(answer.prefix(200)))", code: EPROTO)
    }
  }
}
