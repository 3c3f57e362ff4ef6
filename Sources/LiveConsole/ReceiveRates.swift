import Console
import Foundation
import Inspection

/// Packets received per second by each interface, from its kernel
/// counter read at each interface listing: what the console's RX/s
/// column shows and `o` sorts by.
public struct ReceiveRates {
  private let counter: (String) -> UInt64?
  private var last: [String: (count: UInt64, time: Double)] = [:]
  private var rates: [String: Double] = [:]

  /// Rates from `counter`, an interface's received-packet count.
  public init(counter: @escaping (String) -> UInt64?) {
    self.counter = counter
  }

  /// Reads the counters of `interfaces` at `time`; an interface's rate is
  /// known from its second reading on (a counter that went back, a new
  /// interface of the same name, starts over).
  public mutating func record(_ interfaces: [String], at time: Double) {
    var next: [String: (count: UInt64, time: Double)] = [:]
    rates = [:]
    for name in interfaces {
      guard let count = counter(name) else { continue }
      if let previous = last[name], count >= previous.count, time > previous.time {
        rates[name] = Double(count - previous.count) / (time - previous.time)
      }
      next[name] = (count, time)
    }
    last = next
  }

  /// The last rate of `interface`, `nil` until it had two readings.
  public func rate(of interface: String) -> Double? { rates[interface] }

  /// `/sys/class/net/NAME/statistics/rx_packets`, `nil` when unreadable.
  public static func sysfsCounter(_ interface: String) -> UInt64? {
    guard !interface.contains("/"),
      let text = try? String(
        contentsOfFile: "/sys/class/net/\(interface)/statistics/rx_packets", encoding: .utf8)
    else { return nil }
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}

extension KernelProgramDetails {
  /// What the kernel says about program `id`, `nil` when it cannot be
  /// read (gone, or no privilege).
  public static func read(id: UInt32) -> KernelProgramDetails? {
    guard let details = try? ProgramDetails.read(id: id) else { return nil }
    return KernelProgramDetails(
      tag: details.tag, runCount: details.runCount,
      runTimeNanoseconds: details.runTimeNanoseconds,
      maps: details.maps().map {
        "\($0.name.isEmpty ? "map" : $0.name) (\($0.type.description), id \($0.id))"
      })
  }
}
