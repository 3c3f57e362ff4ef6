import BPF
import Engine
import Synchronization

/// One line a program printed with `bpf_trace_printk` on the software
/// datapath.
public struct TraceRecord: Codable, Sendable, Equatable {
  /// The line's place among every line the datapath's programs printed
  /// since it started, from 0 (dropped lines take a number too).
  public var sequence: UInt64
  /// The receive queue whose engine ran the program.
  public var queue: UInt32
  /// The form the program ran in.
  public var form: Form
  /// What the program printed.
  public var line: String

  /// Describes a line.
  public init(sequence: UInt64, queue: UInt32, form: Form, line: String) {
    self.sequence = sequence
    self.queue = queue
    self.form = form
    self.line = line
  }
}

/// The answer to `trace FROM` on the control socket: the kept lines from
/// sequence number `FROM` on.
public struct TraceExcerpt: Codable, Sendable, Equatable {
  /// The lines, oldest first.
  public var lines: [TraceRecord]
  /// Where the next request starts (one past the last line printed, or
  /// past the last one this answer carries when it was cut short).
  public var next: UInt64
  /// Lines printed between `FROM` and ``next`` that this answer does not
  /// carry: lost to a queue's ring or to the datapath's before anyone read
  /// them.
  public var dropped: UInt64

  /// Describes an answer.
  public init(lines: [TraceRecord], next: UInt64, dropped: UInt64) {
    self.lines = lines
    self.next = next
    self.dropped = dropped
  }
}

/// What the programs of a software datapath printed, collected from every
/// queue's machine after each RX batch: a ring of at most ``capacity``
/// bytes (``TraceLog/cost(_:)`` a line), like the kernel's trace buffer,
/// read without being emptied (any number of `xdpbatch trace` readers,
/// each with its own position) and copied to the datapath's log at a
/// bounded rate.
public final class TraceFeed: Sendable {
  /// The default ring size (256 KiB: an answer of the whole ring fits in
  /// the control client's 1 MiB line even with every byte escaped).
  public static let defaultCapacity = 256 << 10
  /// The most lines the log takes per ``logPending(limit:)`` call.
  static let logBatch = 100
  /// The most text one `trace` answer carries; a reader comes back for
  /// the rest.
  static let answerLimit = 128 << 10

  let capacity: Int

  private struct Ring {
    var records: [TraceRecord] = []
    var first = 0
    var bytes = 0
    /// The sequence number of the next line printed.
    var printed: UInt64 = 0
    /// The next line the log has not taken.
    var logged: UInt64 = 0
  }

  private let ring = Mutex(Ring())

  init(capacity: Int = defaultCapacity) {
    self.capacity = max(0, capacity)
  }

  /// Adds the lines one queue's machine printed in one batch, after
  /// `lost` older lines its own ring dropped.
  func append(_ lines: [String], lost: Int, queue: UInt32, form: Form) {
    ring.withLock { ring in
      ring.printed &+= UInt64(lost)
      for line in lines {
        let cost = TraceLog.cost(line)
        let record = TraceRecord(sequence: ring.printed, queue: queue, form: form, line: line)
        ring.printed &+= 1
        guard cost <= capacity else { continue }
        while ring.bytes + cost > capacity, ring.first < ring.records.count {
          ring.bytes -= TraceLog.cost(ring.records[ring.first].line)
          ring.first += 1
        }
        if ring.first > 64, ring.first * 2 > ring.records.count {
          ring.records.removeFirst(ring.first)
          ring.first = 0
        }
        ring.records.append(record)
        ring.bytes += cost
      }
    }
  }

  /// The kept lines from sequence number `from` on, at most
  /// ``answerLimit`` bytes of text; from 0, the answer's ``TraceExcerpt/dropped``
  /// counts every line lost since the datapath started.
  func excerpt(from: UInt64) -> TraceExcerpt {
    ring.withLock { ring in
      let kept = ring.records[ring.first...]
      var lines: [TraceRecord] = []
      var bytes = 0
      var next = max(from, ring.printed)
      for record in kept where record.sequence >= from {
        bytes += record.line.utf8.count
        if bytes > Self.answerLimit, !lines.isEmpty {
          next = record.sequence
          break
        }
        lines.append(record)
      }
      if lines.isEmpty { next = max(from, ring.printed) }
      let span = next >= from ? next - from : 0
      return TraceExcerpt(
        lines: lines, next: next, dropped: span - min(span, UInt64(lines.count)))
    }
  }

  /// The lines the log has not taken, at most `limit`, and how many it
  /// skips (lines lost before it took them, and those past `limit`: the
  /// log grows by a bounded amount however fast programs print).
  func logPending(limit: Int = logBatch) -> (lines: [TraceRecord], skipped: UInt64) {
    ring.withLock { ring in
      let from = ring.logged
      let pending = ring.records[ring.first...].filter { $0.sequence >= from }
      let taken = Array(pending.prefix(limit))
      ring.logged = ring.printed
      let span = ring.printed - from
      return (taken, span - UInt64(taken.count))
    }
  }
}
