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
  /// The program's nanoseconds per packet in each form that ran.
  var nanosecondsPerPacket: [Form: Double] = [:]
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
      // Another program's cost says nothing about this one's, nor the
      // kernel's about the engine's.
      if current?.source != record?.source || current?.isSoftware != record?.isSoftware {
        nanosecondsPerPacket = [:]
      }
      record = current
      datapath = current?.isSoftware == true ? reading.datapath : nil
      traffic = ActionTraffic(report)
      traffic.redirectErrors = reading.redirectErrors
      // The first sample has totals but no rates yet: not a point at zero.
      if hasRates { history.append(time: now, packetsPerSecond: report.packetsPerSecond) }
      if let datapath {
        for form in Form.allCases {
          if let cost = datapath.forms[form].programNanosecondsPerPacket {
            nanosecondsPerPacket[form] = cost
          }
        }
      } else if current?.isSoftware == false, let form = current?.form,
        let cost = report.nanosecondsPerPacket
      {
        nanosecondsPerPacket[form] = cost
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
    if current?.source != record?.source || current?.isSoftware != record?.isSoftware {
      nanosecondsPerPacket = [:]
    }
    record = current
    datapath = current?.isSoftware == true ? source.datapath(interface: interface) : nil
  }

  /// The whole software datapath's nanoseconds per packet in each form
  /// that ran (empty in the kernel).
  var datapathNanosecondsPerPacket: [Form: Double] {
    guard let datapath else { return [:] }
    var costs: [Form: Double] = [:]
    for form in Form.allCases {
      costs[form] = datapath.forms[form].datapathNanosecondsPerPacket
    }
    return costs
  }

  /// Totals from zero from now on; rates and history go on.
  mutating func resetBaseline() {
    tracker.resetBaseline()
    traffic.totals = ActionCounts()
  }
}
