import BPF
import Foundation
import Kernel

extension XDPAttachment {
  /// Samples the counters now, then every `interval` seconds, `reports`
  /// times (nil: until `report` throws), and hands each sample with the
  /// tracker's totals and rates over the last interval to `report`: what
  /// `xdpbatch stats` prints.
  public func watch(
    every interval: Double, reports: Int?,
    clock: () -> Double = { ProcessInfo.processInfo.systemUptime },
    report: (CounterSample, CounterTracker.Report) throws -> Void
  ) throws {
    var tracker = CounterTracker()
    _ = tracker.record(try sample(at: clock()))
    var made = 0
    while reports.map({ made < $0 }) ?? true {
      Thread.sleep(forTimeInterval: interval)
      let sample = try sample(at: clock())
      try report(sample, tracker.record(sample))
      made += 1
    }
  }
}
