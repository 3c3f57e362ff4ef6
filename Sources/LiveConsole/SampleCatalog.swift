import BPF
import Console
import Foundation

/// The bundled sample objects (`make samples` builds them into
/// build/samples), found beside the working directory or the executable.
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

  /// The attach chooser's entries: every object in the first
  /// `build/samples` found in the working directory or up to four levels
  /// above the executable; empty when none is found.
  public static func choices() -> [AttachChoice] {
    let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "")
      .resolvingSymlinksInPath().deletingLastPathComponent()
    var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
    var directory = executable
    for _ in 0..<4 {
      candidates.append(directory)
      directory = directory.deletingLastPathComponent()
    }
    for base in candidates {
      let samples = base.appendingPathComponent("build/samples")
      guard let files = try? FileManager.default.contentsOfDirectory(atPath: samples.path)
      else { continue }
      let objects = files.filter { $0.hasSuffix(".o") }.sorted()
      guard !objects.isEmpty else { continue }
      return objects.map { file in
        let name = String(file.dropLast(2).replacingOccurrences(of: ".bpf", with: ""))
        return AttachChoice(
          objectPath: samples.appendingPathComponent(file).path, summary: summaries[name] ?? "")
      }
    }
    return []
  }
}
