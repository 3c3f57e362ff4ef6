import Foundation
import Kernel
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A software datapath process (`xdpbatch datapath run IFACE`) that
/// outlives its test. The network fixtures delete their interfaces in
/// their teardown; a child still running then serves nothing and no
/// record or file names it any more, so nothing would ever stop it (a
/// failed swap test once left one running for an hour). Every network
/// fixture runs this first in its teardown: it records an issue for each
/// such process and stops it.
public enum DatapathProcessAudit {
  /// The live (not zombie) `datapath run` processes of `interface`.
  public static func processes(of interface: String) -> [pid_t] {
    Processes.running(withArguments: ["datapath", "run", interface]).filter(isLive)
  }

  /// Records an issue for each datapath process of `interfaces` and stops
  /// it: SIGTERM, then SIGKILL after `grace`.
  public static func stopSurvivors(of interfaces: [String], grace: TimeInterval = 5) {
    for interface in interfaces {
      let survivors = processes(of: interface)
      guard !survivors.isEmpty else { continue }
      let pids = survivors.map { String($0) }.joined(separator: ", ")
      let message = "the test left the datapath process \(pids) of \(interface) running"
      Issue.record(Comment(rawValue: message + " (stopped now)"))
      for pid in survivors { _ = Processes.signal(pid, SIGTERM) }
      let deadline = Date().addingTimeInterval(grace)
      while survivors.contains(where: isLive), Date() < deadline { usleep(20_000) }
      for pid in survivors where isLive(pid) { _ = Processes.signal(pid, SIGKILL) }
    }
  }

  /// Whether `pid` exists and has not exited (a zombie, not yet reaped by
  /// its parent, runs nothing).
  public static func isLive(_ pid: pid_t) -> Bool {
    guard Processes.exists(pid),
      let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    else { return false }
    return stat.split(separator: ")").last?.split(separator: " ").first != "Z"
  }
}
