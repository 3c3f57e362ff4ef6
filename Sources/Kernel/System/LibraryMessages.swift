import CBPF
import CXDP
import Glibc
import Synchronization

/// What libbpf and libxdp print (`libbpf: …`, `libxdp: …`): warnings,
/// information and debug lines. Left alone, both write to standard error,
/// which is the console's screen while it runs. The tool routes them
/// instead (``route(to:)``): the command line to standard error under its
/// own prefix (debug lines only with `--verbose`), the console to its
/// message log, the software datapath to its log.
public enum LibraryMessages {
  /// How much a message matters, as both libraries grade them.
  public enum Level: Int, Comparable, Sendable {
    /// Something failed or was refused (`LIBBPF_WARN`).
    case warning = 0
    /// Ordinary news (`LIBBPF_INFO`).
    case info = 1
    /// Detail for whoever debugs (`LIBBPF_DEBUG`).
    case debug = 2

    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
  }

  /// One line a library printed.
  public struct Message: Hashable, Sendable, CustomStringConvertible {
    /// How much it matters.
    public var level: Level
    /// The text as the library wrote it (`libbpf: …`), without the newline.
    public var text: String

    /// Describes a message.
    public init(level: Level, text: String) {
      self.level = level
      self.text = text
    }

    /// The text.
    public var description: String { text }
  }

  /// Where the messages go: called on whichever thread called the library.
  public typealias Sink = @Sendable (Message) -> Void

  private static let sink = Mutex<Sink?>(nil)

  /// Sends every later message of both libraries to `sink` (replacing the
  /// route before).
  public static func route(to sink: @escaping Sink) {
    self.sink.withLock { $0 = sink }
    _ = libbpf_set_print(printLibbpf)
    _ = libxdp_set_print(printLibxdp)
  }

  /// A sink that writes each message on standard error after `prefix`
  /// (`xdpbatch: libbpf: …`); debug lines only when `verbose`.
  public static func standardError(prefix: String, verbose: Bool) -> Sink {
    { message in
      guard verbose || message.level < .debug else { return }
      let line = Array("\(prefix): \(message.text)\n".utf8)
      // After the lines standard output holds: a line of its own, in order.
      fflush(nil)
      line.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
          let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
          if written < 0, errno == EINTR { continue }
          guard written > 0 else { return }
          offset += written
        }
      }
    }
  }

  /// Keeps messages until someone takes them (the console, once a frame).
  public final class Collector: Sendable {
    private let kept = Mutex<[Message]>([])
    private let verbose: Bool

    /// A collector that keeps debug lines only when `verbose`.
    public init(verbose: Bool) {
      self.verbose = verbose
    }

    /// The sink that fills this collector.
    public var sink: Sink {
      { [self] message in
        guard verbose || message.level < .debug else { return }
        kept.withLock { $0.append(message) }
      }
    }

    /// The messages kept since the last call, oldest first.
    public func take() -> [Message] {
      kept.withLock { messages in
        defer { messages.removeAll() }
        return messages
      }
    }
  }

  /// Formats one library line and hands it to the sink.
  fileprivate static func deliver(
    level: UInt32, format: UnsafePointer<CChar>?, arguments: CVaListPointer?
  ) {
    guard let format, let arguments else { return }
    var buffer = [CChar](repeating: 0, count: 2048)
    let length = vsnprintf(&buffer, buffer.count, format, arguments)
    guard length >= 0 else { return }
    var text = String(
      decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if Int(length) >= buffer.count { text += "…" }
    while text.hasSuffix("\n") { text.removeLast() }
    guard !text.isEmpty else { return }
    let message = Message(level: Level(rawValue: Int(level)) ?? .debug, text: text)
    sink.withLock { $0 }?(message)
  }
}

private let printLibbpf: libbpf_print_fn_t = { level, format, arguments in
  LibraryMessages.deliver(level: level.rawValue, format: format, arguments: arguments)
  return 0
}

private let printLibxdp: libxdp_print_fn_t = { level, format, arguments in
  LibraryMessages.deliver(level: level.rawValue, format: format, arguments: arguments)
  return 0
}
