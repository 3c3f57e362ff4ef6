import BPF
import Deployment

/// `demo status`: what of the demo exists.
public struct DemoStatus: Hashable, Codable, Sendable {
  /// The namespace, when the demo is up.
  public var namespace: String?
  /// The host end of the veth pair, carrying the program.
  public var interface: String?
  /// The far end, where the generator sends from.
  public var peer: String?
  /// The program attached.
  public var program: String?
  /// Per-packet or batch.
  public var form: Form? { didSet { mode = form } }
  /// The form again, under the key docs/DESIGN.md fixed first (read from
  /// an older xdpbatch when `form` is absent).
  public private(set) var mode: Form?
  /// Where the program runs: `kernel` or `software` (a dead software
  /// datapath's interface runs the kernel fallback: `kernel`).
  public var datapath: DatapathKind?
  /// The traffic generator.
  public var generator: Generator

  /// Describes the demo's state.
  public init(
    namespace: String?, interface: String?, peer: String?, program: String?, form: Form?,
    datapath: DatapathKind? = nil, generator: Generator
  ) {
    self.datapath = datapath
    self.namespace = namespace
    self.interface = interface
    self.peer = peer
    self.program = program
    self.form = form
    mode = form
    self.generator = generator
  }

  /// Reads `form`, or `mode` from an older xdpbatch.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
    interface = try container.decodeIfPresent(String.self, forKey: .interface)
    peer = try container.decodeIfPresent(String.self, forKey: .peer)
    program = try container.decodeIfPresent(String.self, forKey: .program)
    form =
      try container.decodeIfPresent(Form.self, forKey: .form)
      ?? container.decodeIfPresent(Form.self, forKey: .mode)
    mode = form
    generator = try container.decode(Generator.self, forKey: .generator)
    datapath = try container.decodeIfPresent(DatapathKind.self, forKey: .datapath)
  }

  /// The generator's state.
  public struct Generator: Hashable, Codable, Sendable {
    /// Whether the process runs; `nil` when the caller cannot read the
    /// state directory (its pid file is root's), not a guess.
    public var running: Bool?
    /// Frames it has sent (as last written by the process); `nil` when
    /// unreadable.
    public var sent: UInt64?
  }

  /// Whether the demo is up.
  public var isUp: Bool { namespace != nil }
}

/// Why `demo up` failed.
public enum DemoError: Error, Sendable, CustomStringConvertible {
  /// Namespace or veth plumbing failed.
  case plumbing(PlumbingError)
  /// Attaching the classifier failed.
  case deployment(DeploymentError)
  /// The generator process did not start.
  case generator(String)
  /// The demo is up in another XDP mode than the one asked for.
  case modeChange(running: AttachMode, requested: AttachMode)

  /// A message naming the step.
  public var description: String {
    switch self {
    case .plumbing(let error): "demo: \(error)"
    case .deployment(let error): "demo: \(error)"
    case .generator(let reason): "demo: traffic generator: \(reason)"
    case .modeChange(let running, _):
      "demo: the demo runs its program in \(running.rawValue) mode"
    }
  }
}
