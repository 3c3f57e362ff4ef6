import BPF
import Foundation

extension SoftwareDatapath {
  /// What the programs printed from sequence number `start` on (the
  /// lines kept, and the count of those lost): `trace [FROM]` on the
  /// control socket, `xdpbatch trace IFACE`.
  public func trace(from start: UInt64 = 0) -> TraceExcerpt {
    trace.excerpt(from: start)
  }

  /// Copies the lines printed since the last call to the datapath's log
  /// (its standard error), at most ``TraceFeed/logBatch`` a call (every
  /// ``flushMilliseconds``), and says how many it left out.
  func logTrace() {
    let (lines, skipped) = trace.logPending()
    guard !lines.isEmpty || skipped > 0 else { return }
    var text = ""
    for record in lines {
      text +=
        "xdpbatch datapath: trace: queue \(record.queue) \(record.form.rawValue): \(record.line)\n"
    }
    if skipped > 0 {
      text +=
        "xdpbatch datapath: trace: \(skipped) line(s) not logged (the log takes \(TraceFeed.logBatch) every \(Self.flushMilliseconds) ms; xdpbatch trace \(configuration.interface) reads the newest \(trace.capacity / 1024) KiB)\n"
    }
    FileHandle.standardError.write(Data(text.utf8))
  }
}
