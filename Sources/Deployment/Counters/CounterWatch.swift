import BPF
import Foundation
import Kernel

extension XDPAttachment {
  /// Samples the counters now, then every `interval` seconds, `reports`
  /// times (nil: until `report` throws), and hands each sample with the
  /// tracker's totals and rates over the last interval to `report`: what
  /// `xdpbatch stats` prints.
  ///
  /// Before each sample it asks the kernel whether the link is still
  /// attached, and stops with ``WatchError`` when the interface was
  /// deleted or the program detached meanwhile: the counters map outlives
  /// both, and would go on reporting its last counts as if the program
  /// still ran.
  public func watch(
    every interval: Double, reports: Int?,
    clock: () -> Double = { ProcessInfo.processInfo.systemUptime },
    report: (CounterSample, CounterTracker.Report) throws -> Void
  ) throws {
    var tracker = CounterTracker()
    try checkStillAttached()
    _ = tracker.record(try sample(at: clock()))
    var made = 0
    while reports.map({ made < $0 }) ?? true {
      Thread.sleep(forTimeInterval: interval)
      try checkStillAttached()
      let sample = try sample(at: clock())
      try report(sample, tracker.record(sample))
      made += 1
    }
  }

  /// Throws ``WatchError`` when the kernel reports the link detached
  /// (interface index 0): the interface was deleted (or another took its
  /// name), or the program was detached.
  public func checkStillAttached() throws(WatchError) {
    let info: XDPLink.Info
    do {
      info = try readInfo(link)
    } catch {
      throw .unreadable(interface: interface, error)
    }
    guard info.interfaceIndex == 0 else { return }
    try WatchError.checkInterface(interface, index: interfaceIndex)
    throw .detached(interface: interface)
  }
}

/// Why watching an interface's counters stopped: what it watched is gone.
public enum WatchError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The interface was deleted while watched (or an interface of another
  /// index has its name now).
  case interfaceGone(interface: String, index: UInt32)
  /// The program was detached from the interface while watched.
  case detached(interface: String)
  /// The link's state could not be read.
  case unreadable(interface: String, SystemCallError)

  /// Throws ``interfaceGone(interface:index:)`` unless `interface` still
  /// has index `index`.
  public static func checkInterface(_ interface: String, index: UInt32) throws(WatchError) {
    guard NetworkInterface.index(of: interface) == index else {
      throw .interfaceGone(interface: interface, index: index)
    }
  }

  /// A message naming the interface.
  public var description: String {
    switch self {
    case .interfaceGone(let interface, let index):
      "interface \(interface) (index \(index)) no longer exists: it was deleted while its counters were watched"
    case .detached(let interface):
      "the program on \(interface) was detached while its counters were watched"
    case .unreadable(let interface, let error):
      "cannot tell whether the program on \(interface) still runs: \(error)"
    }
  }
}
