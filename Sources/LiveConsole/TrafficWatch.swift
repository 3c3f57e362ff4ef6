import BPF
import Console
import Datapath
import Deployment

/// The selected interface's counters over time: a ``CounterTracker`` fed
/// every sample, the rate history, and the cost per packet of each form
/// seen running: in the kernel from its run statistics, in the software
/// datapath from the datapath's own timing (the kernel's statistics there
/// time the redirect program, not the user's).
struct TrafficWatch {
  let interface: String
  var sampledAt = -Double.infinity
  var tracker = CounterTracker()
  var traffic = ActionTraffic()
  var history = RateHistory()
  var record: AttachmentRecord?
  /// The kernel's nanoseconds per packet (its run statistics) in each
  /// form it ran the program in.
  var kernelNanosecondsPerPacket: [Form: Double] = [:]
  /// The software datapath's program nanoseconds per packet in each form,
  /// from its comparison window when it has one (both forms on the same
  /// traffic): kept after the interface moves back to the kernel.
  var softwareNanosecondsPerPacket: [Form: Double] = [:]
  /// The same for the whole software datapath.
  var softwareDatapathNanosecondsPerPacket: [Form: Double] = [:]
  /// The engine that measured the software figures.
  var softwareEngine: String?
  /// The software datapath's report (`nil` in the kernel).
  var datapath: DatapathReading?
  var problem: StatusMessage?

  init(interface: String) {
    self.interface = interface
  }

  /// Reads the interface's attachment and counters (as `stats` does).
  mutating func sample(from source: any TrafficSource, at now: Double) {
    sampledAt = now
    do {
      guard let reading = try source.read(interface: interface, at: now) else {
        self = TrafficWatch(interface: interface)
        sampledAt = now
        return
      }
      let current = reading.record
      let hasRates = tracker.last != nil
      let report = tracker.record(reading.sample)
      // Another program's cost says nothing about this one's; the
      // kernel's and the engine's figures are kept apart.
      if current?.source != record?.source { forgetCosts() }
      record = current
      datapath = current?.isSoftware == true ? reading.datapath : nil
      traffic = ActionTraffic(report)
      traffic.redirectErrors = reading.redirectErrors
      // The first sample has totals but no rates yet: not a point at zero.
      if hasRates { history.append(time: now, packetsPerSecond: report.packetsPerSecond) }
      if let datapath {
        note(datapath)
      } else if current?.isSoftware == false, let form = current?.form,
        let cost = report.nanosecondsPerPacket
      {
        kernelNanosecondsPerPacket[form] = cost
      }
      problem =
        current == nil
        ? .error(DeploymentError.unknownProgram(interface: interface).description)
        : nil
    } catch {
      record = nil
      problem = .error("cannot read the counters of \(interface): \(error)")
    }
  }

  /// Re-reads only which program runs (after a command), leaving the
  /// counters to the next sample.
  mutating func refreshRecord(from source: any TrafficSource) {
    let current = try? source.record(interface: interface)
    if current?.source != record?.source { forgetCosts() }
    record = current
    datapath = current?.isSoftware == true ? source.datapath(interface: interface) : nil
  }

  /// Takes the software datapath's figures of each form: the comparison
  /// window's where it measured the form, else (an older datapath) the
  /// totals'.
  private mutating func note(_ datapath: DatapathReading) {
    for form in Form.allCases {
      let timing: FormTiming?
      if let comparison = datapath.comparison {
        timing = comparison[form].packets > 0 ? comparison[form] : nil
      } else {
        timing = datapath.forms[form]
      }
      guard let timing, let program = timing.programNanosecondsPerPacket else { continue }
      softwareNanosecondsPerPacket[form] = program
      softwareDatapathNanosecondsPerPacket[form] = timing.datapathNanosecondsPerPacket
    }
    if let engine = datapath.engine { softwareEngine = engine }
  }

  private mutating func forgetCosts() {
    kernelNanosecondsPerPacket = [:]
    softwareNanosecondsPerPacket = [:]
    softwareDatapathNanosecondsPerPacket = [:]
    softwareEngine = nil
  }

  /// The program's nanoseconds per packet in each form for the pane's
  /// `ns/pkt` row: the software datapath's once it measured the program
  /// (per-packet and batch on the same datapath and engine), else the
  /// kernel's.
  var nanosecondsPerPacket: [Form: Double] {
    softwareNanosecondsPerPacket.isEmpty ? kernelNanosecondsPerPacket : softwareNanosecondsPerPacket
  }

  /// The whole software datapath's nanoseconds per packet in each form
  /// it measured (empty when it never ran the program).
  var datapathNanosecondsPerPacket: [Form: Double] { softwareDatapathNanosecondsPerPacket }

  /// Totals from zero from now on; rates and history go on.
  mutating func resetBaseline() {
    tracker.resetBaseline()
    traffic.totals = ActionCounts()
  }
}
