import BPF
import Console
import Control

/// The selected interface's counters over time: a ``CounterTracker`` fed
/// every sample, the rate history, and the cost per packet of each form
/// seen running.
struct TrafficWatch {
  let interface: String
  var sampledAt = -Double.infinity
  var tracker = CounterTracker()
  var traffic = ActionTraffic()
  var history = RateHistory()
  var record: AttachmentRecord?
  var nanosecondsPerPacket: [Form: Double] = [:]
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
      // Another program's cost says nothing about this one's.
      if current?.source != record?.source { nanosecondsPerPacket = [:] }
      record = current
      traffic = ActionTraffic(report)
      // The first sample has totals but no rates yet: not a point at zero.
      if hasRates { history.append(time: now, packetsPerSecond: report.packetsPerSecond) }
      if let form = current?.form, let cost = report.nanosecondsPerRun {
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
    record = try? source.record(interface: interface)
  }

  /// Totals from zero from now on; rates and history go on.
  mutating func resetBaseline() {
    tracker.resetBaseline()
    traffic.totals = ActionCounts()
  }
}
