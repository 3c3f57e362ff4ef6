import BPF
import Deployment
import Foundation

/// The labels that name one attachment's series: which interface, which
/// program, on which datapath and in which form. The counters families
/// add `action`.
public struct SeriesLabels: Hashable, Sendable {
  /// The interface.
  public var interface: String
  /// The program's name in its object (the kernel's name when xdpbatch
  /// has no record of it).
  public var program: String
  /// `kernel` (the program runs in the kernel's XDP hook) or `software`
  /// (a live AF_XDP datapath process runs it in the engine; once that
  /// process is gone the kernel fallback counts, so the label is `kernel`).
  public var datapath: String
  /// `per_packet` or `batch`; `unknown` when xdpbatch has no record of
  /// the attached program (someone replaced it).
  public var form: String

  /// Describes one attachment's series.
  public init(interface: String, program: String, datapath: String = "kernel", form: String) {
    self.interface = interface
    self.program = program
    self.datapath = datapath
    self.form = form
  }

  /// The labels of what runs on `interface` now: from its attachment
  /// record when the record still describes the attached program.
  public init(interface: String, record: AttachmentRecord?, kernelName: String) {
    // A label value in Prometheus's words: per_packet, not per-packet.
    // A dead software datapath's kernel fallback runs the program per packet.
    let form = record.map { $0.runningForm.rawValue.replacingOccurrences(of: "-", with: "_") }
    let software = record?.runningDatapath == .software
    self.init(
      interface: interface, program: record?.program ?? kernelName,
      datapath: software ? "software" : "kernel", form: form ?? "unknown")
  }

  /// The label pairs, in exposition order, with `action` when given.
  func pairs(action: XDPAction? = nil) -> [(String, String)] {
    var pairs = [
      ("interface", interface), ("program", program), ("datapath", datapath), ("form", form),
    ]
    if let action { pairs.append(("action", action.name)) }
    return pairs
  }
}
