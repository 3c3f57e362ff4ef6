import Foundation
import Glibc

extension NetworkInterface {
  /// The index of interface `name` in the calling thread's namespace;
  /// nil when there is none.
  public static func index(of name: String) -> UInt32? {
    let index = if_nametoindex(name)
    return index == 0 ? nil : index
  }

  /// The name of interface `index` in the calling thread's namespace;
  /// nil when there is none.
  public static func name(of index: UInt32) -> String? {
    var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(index, &name) != nil else { return nil }
    return String(cString: name)
  }

  /// The receive queues of interface `name` (`/sys/class/net/NAME/queues/rx-*`).
  public static func receiveQueues(of name: String) -> Int {
    let entries =
      (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net/\(name)/queues")) ?? []
    return entries.filter { $0.hasPrefix("rx-") }.count
  }

  /// A counter of interface `name` in the calling thread's namespace
  /// (`/sys/class/net/NAME/statistics/COUNTER`: `rx_packets`,
  /// `rx_dropped`...); nil when it cannot be read.
  public static func statistic(_ counter: String, of name: String) -> UInt64? {
    guard !name.contains("/"), !counter.contains("/"),
      let text = try? String(
        contentsOfFile: "/sys/class/net/\(name)/statistics/\(counter)", encoding: .utf8)
    else { return nil }
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}
