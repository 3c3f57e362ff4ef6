import BPF
import Control

/// Why the software datapath could not start, or failed while running.
/// A start that fails leaves nothing of its own behind.
public enum DatapathError: Error, Sendable, CustomStringConvertible {
  /// No such interface in this namespace.
  case interfaceNotFound(String)
  /// The object or program could not be prepared.
  case source(ProgramSourceError)
  /// The engine could not take the program (maps, preparation).
  case engine(program: String, reason: String)
  /// A kernel step failed (maps, pins, program load, link).
  case kernel(SystemCallError)
  /// The user's program did not load in the kernel (its fallback form).
  case load(AttachError)
  /// An AF_XDP socket or its UMEM could not be set up.
  case socket(interface: String, queue: UInt32, step: String, code: Int32)
  /// The TAP device for PASS could not be made.
  case passDevice(name: String, code: Int32)
  /// The interface has a program that is not xdpbatch's.
  case foreignProgram(interface: String, program: String)
  /// The control socket could not be made or reached.
  case controlSocket(path: String, step: String, code: Int32)
  /// The batch form cannot be made for this program.
  case batchUnavailable(String)
  /// The datapath process did not start; its log's last lines say why.
  case process(interface: String, log: String)
  /// Attaching, swapping or detaching through Control failed.
  case deployment(DeploymentError)
  /// The attachment record could not be written.
  case record(RecordError)

  /// A message naming what failed and how to act on it.
  public var description: String {
    switch self {
    case .interfaceNotFound(let name): "no interface named \(name)"
    case .source(let error): error.description
    case .engine(let program, let reason): "program \(program): the engine cannot run it: \(reason)"
    case .kernel(let error): error.description
    case .load(let error): error.description
    case .socket(let interface, let queue, let step, let code):
      "AF_XDP socket on \(interface) queue \(queue): \(step) failed: \(Self.text(code))"
        + (code == 1 || code == 13 ? " (this needs root)" : "")
    case .passDevice(let name, let code):
      "cannot make the TAP device \(name) for PASS: \(Self.text(code)) (is /dev/net/tun there?)"
    case .foreignProgram(let interface, let program):
      "\(interface) runs XDP program \"\(program)\" that xdpbatch did not attach; detach it first"
    case .controlSocket(let path, let step, let code):
      "control socket \(path): \(step) failed: \(Self.text(code))"
        + (code == 2 || code == 111 ? " (is the datapath running?)" : "")
    case .batchUnavailable(let reason): reason
    case .process(let interface, let log):
      "the software datapath of \(interface) did not start" + (log.isEmpty ? "" : ": \(log)")
    case .deployment(let error): error.description
    case .record(let error): error.description
    }
  }

  static func text(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
  }
}

#if canImport(Glibc)
  import Glibc
#endif
