import BPF
import Foundation
import Glibc
import Kernel

/// The datapath's control socket, `/run/xdpbatch/IFACE.sock` (root only,
/// mode 0600): one request line per connection, one JSON line back.
///
/// Requests: `status`; `swap` (toggle the form); `form per-packet` or
/// `form batch`; `stop`; `trace [FROM]` (the lines the programs printed
/// from sequence number FROM, 0 by default: a ``TraceExcerpt``). Answers to `swap`/`form`/`stop` are
/// `{"ok": true, "form": F}` or `{"ok": false, "error": TEXT}`. Answers
/// are sent with `MSG_NOSIGNAL`: a client that gave up waiting (the
/// exporter's short timeout, on a datapath that was stopped) must not kill
/// the datapath with `SIGPIPE`.
final class ControlSocket: @unchecked Sendable {
  private let listener: UnixListener

  /// The socket's path.
  var path: String { listener.path }

  /// The control socket's path for `interface` in `state`.
  static func path(_ interface: String, _ state: StateDirectory) -> String {
    state.file(interface + ".sock")
  }

  /// Binds and listens at `path`. A socket file nobody answers on (a dead
  /// datapath's) is replaced; a live one is refused.
  init(path: String) throws(DatapathError) {
    // Made as every state file's directory is (root's only, 0700): a
    // datapath can be the first to need it, e.g. after `demo down`
    // removed it empty.
    let directory = (path as NSString).deletingLastPathComponent
    let state = StateDirectory(path: directory)
    do {
      try state.create()
    } catch {
      throw .controlSocket(path: path, step: "create \(directory)", errno: error.errno)
    }
    if access(path, F_OK) == 0 {
      if (try? DatapathClient(path: path).request("status")) != nil {
        throw .controlSocket(
          path: path, step: "bind (a datapath already answers there)", errno: .addressInUse)
      }
      unlink(path)
    }
    do {
      // The directory can go meanwhile (demo down): made again.
      listener = try state.makingFile { () throws(SystemCallError) in try UnixListener(path: path) }
    } catch {
      throw .controlSocket(path: path, step: error.operation, errno: error.errno)
    }
  }

  deinit { close() }

  /// Stops accepting and removes the socket file.
  func close() { listener.close() }

  /// Answers requests on a thread of its own until closed.
  func serve(_ datapath: SoftwareDatapath) {
    let thread = Thread { [self] in
      // Interrupted calls are made again; any other failure is the socket
      // being closed.
      while let client = try? listener.accept() {
        answer(client, datapath)
      }
    }
    thread.name = "xdpbatch control"
    thread.start()
  }

  /// Reads one request from `client` and answers it.
  func answer(_ client: UnixConnection, _ datapath: SoftwareDatapath) {
    let line = ((try? client.readLine(limit: 256)) ?? "")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let reply = Self.reply(to: line, datapath)
    try? client.send(line: reply)
    if line == "stop" { datapath.stop() }
  }

  /// The answer to one request line.
  static func reply(to line: String, _ datapath: SoftwareDatapath) -> String {
    let words = line.split(separator: " ").map(String.init)
    switch words.first {
    case "status":
      return
        (try? String(
          decoding: JSONCoding.encoder([.sortedKeys]).encode(datapath.status()), as: UTF8.self))
        ?? "{}"
    case "swap", "form":
      var target: Form?
      if words.first == "form" {
        guard words.count == 2, let form = Form(rawValue: words[1]) else {
          return failure("form needs per-packet or batch")
        }
        target = form
      }
      do {
        let form = try datapath.swap(to: target)
        return "{\"ok\":true,\"form\":\"\(form.rawValue)\"}"
      } catch {
        return failure(error.description)
      }
    case "trace":
      var start: UInt64 = 0
      if words.count == 2 {
        guard let from = UInt64(words[1]) else { return failure("trace takes a line number") }
        start = from
      }
      guard words.count <= 2 else { return failure("trace takes at most a line number") }
      return
        (try? String(
          decoding: JSONCoding.encoder([.sortedKeys]).encode(datapath.trace(from: start)),
          as: UTF8.self)) ?? "{}"
    case "stop":
      return "{\"ok\":true,\"form\":\"\(datapath.form.rawValue)\"}"
    default:
      return failure("unknown request \"\(line)\" (status, swap, form F, trace [FROM], stop)")
    }
  }

  private static func failure(_ message: String) -> String {
    let data = (try? JSONEncoder().encode(["error": message])) ?? Data("{}".utf8)
    return "{\"ok\":false," + String(decoding: data.dropFirst(), as: UTF8.self)
  }
}
