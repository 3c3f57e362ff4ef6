import BPF

/// What happened to one packet.
public struct PacketOutcome: Hashable, Sendable {
  /// The verdict (a return value above 4 counts as ``XDPAction/aborted``).
  public var action: XDPAction
  /// The raw verdict: R0 in per-packet mode, the record's `act` in batch mode.
  /// The kernel reads only its low 32 bits (``action`` does too).
  public var returnValue: UInt64
  /// The packet bytes between `data` and `data_end` after the program ran
  /// (after any `xdp_adjust_head`/`xdp_adjust_tail`).
  public var output: [UInt8]
  /// The metadata in front of the packet (between `data_meta` and `data`)
  /// that `xdp_adjust_meta` made room for; empty when there is none.
  public var metadata: [UInt8] = []
  /// Where a REDIRECT verdict sends the packet, if a redirect helper set a
  /// target (nil for every other verdict).
  public var redirect: RedirectTarget?
}

/// The result of running a list of packets through a program.
public struct RunReport: Sendable {
  /// One outcome per input packet, in order.
  public var outcomes: [PacketOutcome] = []
  /// Per-verdict totals.
  public var totals = ActionCounts()
  /// Instructions executed over the whole run.
  public var instructions = 0
  /// Program invocations (packets in per-packet mode, batches in batch mode).
  public var invocations = 0

  /// An empty report.
  public init() {}
}

/// Why a run over packets stopped.
public enum RunError: Error, Equatable, Sendable {
  /// The program faulted on a packet (per-packet) or a batch starting there.
  case execution(packet: Int, ExecutionError)
  /// A packet does not fit the engine's packet frame.
  case packetTooLarge(packet: Int, size: Int, limit: Int)
  /// A batch program returned a count other than the number of records.
  case batchIncomplete(packet: Int, processed: UInt64, expected: Int)
  /// The packet buffers could not be mapped.
  case addressSpace(AddressSpaceError)
  /// The program left the packet bounds of its context record outside the
  /// packet's frame (it wrote `data`, `data_end` or `data_meta`, which the
  /// kernel's verifier refuses): the packet is not sent anywhere.
  case packetOutsideFrame(packet: Int, data: UInt32, end: UInt32, meta: UInt32)
}

extension RunError: CustomStringConvertible {
  /// A one-line message naming the packet.
  public var description: String {
    switch self {
    case .execution(let packet, let error): "packet \(packet): \(error)"
    case .packetTooLarge(let packet, let size, let limit):
      "packet \(packet): \(size) bytes exceeds the engine's limit of \(limit)"
    case .batchIncomplete(let packet, let processed, let expected):
      "batch at packet \(packet): program returned \(processed), expected \(expected) records"
    case .addressSpace(let error): error.description
    case .packetOutsideFrame(let packet, let data, let end, let meta):
      "packet \(packet): the program moved its packet outside its frame (data_meta 0x"
        + "\(String(meta, radix: 16)), data 0x\(String(data, radix: 16)), data_end 0x"
        + "\(String(end, radix: 16))): it wrote its context"
    }
  }
}
