import Foundation
import Glibc
import Kernel

extension SoftwareDatapath {
  /// The signals that stop a datapath run in the foreground.
  public static let stopSignals = [SIGINT, SIGTERM]

  /// Starts the datapath of `configuration` to run in the foreground
  /// (`xdpbatch datapath run`, a systemd unit): SIGINT and SIGTERM are
  /// blocked first, so that every thread of the datapath leaves them to
  /// ``runUntilStopped()``.
  public static func startInForeground(_ configuration: DatapathConfiguration)
    throws(DatapathError) -> (SoftwareDatapath, SignalSet)
  {
    let signals = SignalSet.block(stopSignals)
    return (try start(configuration), signals)
  }

  /// Runs until one of `signals` arrives or a `stop` request does, then
  /// waits until the workers have stopped.
  public func runUntilStopped(_ signals: SignalSet) {
    let waiter = Thread { [self] in
      _ = signals.wait()
      stop()
    }
    waiter.start()
    wait()
  }
}
