import Console
import Foundation
import Lab

/// The bundled sample objects (`make samples` builds them into
/// build/samples) as the console's attach chooser offers them.
public enum SampleCatalog {
  /// One line about each sample, by object name without `.o`.
  public static let summaries: [String: String] = [
    "xdp1": "count by protocol, drop",
    "xdp_tx": "swap MACs, transmit back",
    "xdp_redirect_map": "redirect through a DEVMAP",
    "xdp_classify": "all five actions, a subprogram",
    "xdp_calls": "nested bpf-to-bpf calls",
    "xdp_stack": "over 400 bytes of stack",
    "xdp_stack_helper": "stack pointers passed to helpers",
    "xdp_tailcall": "tail call (cannot be batched)",
  ]

  /// The attach chooser's entries: every bundled sample object
  /// (``Lab/SampleDirectory``); empty when none is found.
  public static func choices(in samples: SampleDirectory? = SampleDirectory.find())
    -> [AttachChoice]
  {
    (samples?.objects ?? []).map { path in
      let file = URL(fileURLWithPath: path).lastPathComponent
      let name = String(file.dropLast(2).replacingOccurrences(of: ".bpf", with: ""))
      return AttachChoice(objectPath: path, summary: summaries[name] ?? "")
    }
  }
}
