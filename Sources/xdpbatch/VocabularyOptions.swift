import ArgumentParser
import BPF

// The command line's words for the shared vocabulary (BPF's Vocabulary):
// one spelling table and one set of options, used by every command.

extension AttachMode: ExpressibleByArgument {
  /// `native`/`drv`, `generic`/`skb`, `offload`/`hw`, as xdp-loader spells them.
  public init?(argument: String) {
    self.init(spelling: argument)
  }

  /// The names `--help` lists.
  public static var allValueStrings: [String] {
    ["native", "drv", "generic", "skb", "offload", "hw"]
  }
}

extension Form: ExpressibleByArgument {}
extension BatchStrategy: ExpressibleByArgument {}
extension BatchBound: ExpressibleByArgument {}

/// `--mode`: where the kernel runs the program (xdp-loader's and bpftool's meaning).
struct AttachModeOption: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "native (drv: in the driver), generic (skb: after the sk_buff is built), or offload (hw: on the NIC, where the driver offers it).",
      valueName: "mode"))
  var mode: AttachMode = .native
}

/// `--strategy` and `--bound`: how the batch form is rewritten; the
/// defaults are the rewriter's. Whether either was given is kept, so that
/// a command can refuse them where they would do nothing.
struct BatchRewriteOptions: ParsableArguments {
  @Option(
    name: .customLong("strategy"),
    help:
      "Batch form: shift (move the frame down) or reserve (slots below the deepest use; the default)."
  )
  var strategyChoice: BatchStrategy?

  @Option(
    name: .customLong("bound"),
    help:
      "Batch form: count (R2 records), immediate (always --batch records) or end-pointer (the default)."
  )
  var boundChoice: BatchBound?

  /// The strategy given, or the rewriter's default.
  var strategy: BatchStrategy { strategyChoice ?? .default }
  /// The bound given, or the rewriter's default.
  var bound: BatchBound { boundChoice ?? .default }
  /// Whether `--strategy` or `--bound` was given.
  var isGiven: Bool { strategyChoice != nil || boundChoice != nil }
}
