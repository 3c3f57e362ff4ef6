import BPF
import Datapath
import Foundation

/// `datapath status` for a reader: what runs, where, how fast, and what
/// was lost, one fact a line.
struct DatapathStatusTable {
  var status: DatapathStatus

  init(_ status: DatapathStatus) { self.status = status }

  var text: String {
    let started = Date(timeIntervalSince1970: status.started)
    let uptime = max(0, Date().timeIntervalSince(started))
    var engine = (status.runningEngine ?? status.engine)?.rawValue ?? "?"
    if let fallback = status.engineFallback { engine += " (the JIT refused it: \(fallback))" }
    var rows: [(String, String)] = [
      ("interface", status.interface),
      ("program", "\(status.program) (\(status.object))"),
      ("form", status.form.rawValue + (status.batchAvailable ? "" : " (no batch form)")),
      ("batch rewrite", "\(status.strategy) strategy, \(status.bound) bound"),
      ("engine", engine + (status.groupActions == true ? ", actions grouped" : "")),
      ("sockets", "\(status.queues) queue(s), \(status.zeroCopy ? "zero-copy" : "copy mode")"),
      ("PASS device", status.passDevice),
      ("process", "pid \(status.pid), up \(Self.duration(uptime))"),
    ]
    for form in Form.allCases {
      let timing = status.forms[form]
      guard timing.packets > 0 else { continue }
      let program = timing.programNanosecondsPerPacket.map { String(format: "%.1f", $0) } ?? "-"
      let datapath = timing.datapathNanosecondsPerPacket.map { String(format: "%.1f", $0) } ?? "-"
      rows.append(
        (
          "\(form.rawValue)",
          "\(timing.packets) packets, \(program) ns/packet program, \(datapath) ns/packet datapath"
        ))
    }
    let actions = XDPAction.allCases.map { "\($0.name) \(status.counters.actions[$0].packets)" }
    rows.append(("actions", actions.joined(separator: ", ")))
    rows.append(("redirect errors", status.redirectErrors?.summary ?? "not reported"))
    rows.append(
      (
        "undelivered",
        "\(status.counters.passFailed.packets) PASS (TAP refused), \(status.counters.transmitFailed.packets) TX (ring full)"
      ))
    let socket = status.socket
    rows.append(
      (
        "socket drops",
        "\(socket.rxDropped) rx dropped, \(socket.rxRingFull) rx ring full, \(socket.fillRingEmpty) fill ring empty, \(socket.txInvalid) tx invalid"
      ))
    if let maps = status.followedMaps, !maps.isEmpty {
      rows.append(("followed maps", maps.joined(separator: ", ")))
    }
    if let problem = status.followProblem { rows.append(("follow problem", problem)) }
    let width = rows.map(\.0.count).max() ?? 0
    return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
      .joined(separator: "\n")
  }

  static func duration(_ seconds: Double) -> String {
    let total = Int(seconds)
    if total < 60 { return "\(total) s" }
    if total < 3600 { return "\(total / 60) min \(total % 60) s" }
    return "\(total / 3600) h \(total % 3600 / 60) min"
  }
}
