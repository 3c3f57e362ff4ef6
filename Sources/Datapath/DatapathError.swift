import BPF
import Kernel

/// Why the software datapath could not start, or failed while running.
/// A start that fails leaves nothing of its own behind.
public enum DatapathError: Error, Sendable, CustomStringConvertible {
  /// No such interface in this namespace.
  case interfaceNotFound(String)
  /// The object or its program could not be read.
  case object(BPFObjectError)
  /// The engine could not take the program (maps, preparation).
  case engine(program: String, reason: String)
  /// A kernel step failed (maps, pins, program load, link).
  case kernel(SystemCallError)
  /// A program of the kernel half (the user's fallback, the redirect
  /// program) did not load.
  case load(LoadError)
  /// An AF_XDP socket or its UMEM could not be set up.
  case socket(interface: String, queue: UInt32, step: String, errno: Errno)
  /// The TAP device for PASS could not be made or set up.
  case passDevice(TapDeviceError)
  /// The interface has a program that is not xdpbatch's.
  case foreignProgram(interface: String, program: String)
  /// The control socket could not be made or reached.
  case controlSocket(path: String, step: String, errno: Errno)
  /// The batch form cannot be made for this program.
  case batchUnavailable(String)
  /// The datapath process did not start; its log's last lines say why.
  case process(interface: String, log: String)

  /// A message naming what failed.
  public var description: String {
    switch self {
    case .interfaceNotFound(let name): "no interface named \(name)"
    case .object(let error): "\(error)"
    case .engine(let program, let reason): "program \(program): the engine cannot run it: \(reason)"
    case .kernel(let error): error.description
    case .load(let error): error.description
    case .socket(let interface, let queue, let step, let errno):
      "AF_XDP socket on \(interface) queue \(queue): \(step) failed: \(errno.message)"
    case .passDevice(let error):
      "cannot make the TAP device \(error.name) for PASS: \(error)"
    case .foreignProgram(let interface, let program):
      "\(interface) runs XDP program \"\(program)\" that xdpbatch did not attach"
    case .controlSocket(let path, let step, let errno):
      "control socket \(path): \(step) failed: \(errno.message)"
    case .batchUnavailable(let reason): reason
    case .process(let interface, let log):
      "the software datapath of \(interface) did not start" + (log.isEmpty ? "" : ": \(log)")
    }
  }
}
