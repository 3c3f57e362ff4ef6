import Datapath
import Deployment
import Inspection
import Kernel
import Lab

/// What the operator can run about a failure: the libraries' errors say
/// what failed; the command line adds the command or option that helps,
/// after the failure (`…; detach it first or pass --force to replace it`).
protocol CommandLineAdvice {
  /// The advice to append to the error's description, `""` for none.
  var advice: String { get }
}

extension CommandLineAdvice where Self: CustomStringConvertible {
  /// The description with the advice.
  var advised: String { description + advice }
}

/// The line `xdpbatch: error: …` prints for `error`: its description and
/// the command line's advice, when it has some.
func advisedMessage(for error: any Error) -> String {
  guard let advised = error as? any CommandLineAdvice & CustomStringConvertible else {
    return "\(error)"
  }
  return advised.advised
}

/// The privilege hint of a refusal the kernel gave an unprivileged caller.
private func privilegeHint(_ error: SystemCallError, _ needs: String) -> String {
  error.isPermissionDenied && !Privileges.sufficient ? " (this needs root: \(needs))" : ""
}

extension DeploymentError: CommandLineAdvice {
  var advice: String {
    switch self {
    case .source(let error): error.advice
    case .attach(let error): error.advice
    case .lock(.file(let call)) where call.isPermissionDenied:
      " (this needs root: CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)"
    case .batchUnsupported(.noActionField), .batchUnsupported(.otherInterface):
      " The software datapath runs the batch form on this kernel: `xdpbatch attach IFACE OBJ --program P --datapath software --form batch`, or `xdpbatch swap IFACE`."
    case .batchUnsupported(.driver(let interface, _)):
      " The software datapath runs the batch form there: `xdpbatch swap \(interface)` moves it."
    case .batchUnsupported(.mode):
      " Attach with --mode native, or let the software datapath run the batch form (`xdpbatch swap IFACE`)."
    case .offloadUnsupported: "; use --mode native (drv) or generic (skb). Nothing was changed."
    case .unknownProgram(let interface):
      "; attach it again with `xdpbatch attach \(interface) OBJ.o --program NAME`"
    case .nativeUnsupported: "; `--mode skb` (generic) works on any interface"
    case .datapath(let error): error.advice
    case .foreignOnly(let interface, _): "; `xdpbatch detach --force \(interface)` detaches it"
    default: ""
    }
  }
}

extension AttachError: CommandLineAdvice {
  var advice: String {
    switch self {
    case .interfaceNotFound: " (see `xdpbatch list --all`)"
    case .foreignProgram: "; detach it first or pass --force to replace it"
    case .modeMismatch(let interface, let attached, _):
      "; detach it first (`xdpbatch detach \(interface)`) to change the mode, or ask for --mode \(attached.rawValue)"
    case .kernel(let call): privilegeHint(call, "CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN")
    case .load(.kernel(_, let call)), .load(.map(_, let call)):
      privilegeHint(call, "CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN")
    default: ""
    }
  }
}

extension ProgramSourceError: CommandLineAdvice {
  var advice: String {
    guard case .alreadyBatch = self else { return "" }
    return
      "; attach the per-packet object (the one compiled with clang, or `rewrite --form per-packet -o`)"
  }
}

extension DatapathError: CommandLineAdvice {
  var advice: String {
    switch self {
    case .socket(_, _, _, let errno) where errno.isPermissionDenied: " (this needs root)"
    case .controlSocket(_, _, let errno) where errno == .notFound || errno == .connectionRefused:
      " (is the datapath running?)"
    case .foreignProgram: "; detach it first"
    default: ""
    }
  }
}

extension InspectionError: CommandLineAdvice {
  var advice: String {
    switch self {
    case .kernel(let call) where call.isPermissionDenied:
      " (this needs root: CAP_BPF and CAP_SYS_ADMIN)"
    case .unknownObject: "; name its object file with --object FILE (and --program NAME)"
    default: ""
    }
  }
}

extension DemoError: CommandLineAdvice {
  var advice: String {
    switch self {
    case .deployment(let error): error.advice
    case .modeChange(_, let requested):
      "; `xdpbatch demo down` first to bring it up in \(requested.rawValue) mode"
    default: ""
    }
  }
}
