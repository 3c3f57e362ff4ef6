import BPF
import Engine
import Rewriter

/// What ``EquivalenceCheck`` found for one program.
public struct ProgramEquivalence: Sendable {
  /// The program's name.
  public var program: String
  /// Packets run through every form.
  public var packets = 0
  /// The per-packet form's verdict totals.
  public var actions = ActionCounts()
  /// One outcome per variant, in the order asked for.
  public var variants: [VariantOutcome] = []

  /// Describes a check not yet run.
  public init(program: String) { self.program = program }

  /// Whether no variant that could be built differs from the per-packet form.
  public var isEquivalent: Bool { variants.allSatisfy { $0.mismatches == 0 } }
  /// Whether the rewriter refused every variant (nothing was compared).
  public var isRefused: Bool { !variants.isEmpty && variants.allSatisfy { $0.refusal != nil } }
}

/// How one batch variant compared with the per-packet form.
public struct VariantOutcome: Sendable {
  /// The strategy and bound.
  public var variant: BatchVariant
  /// The rewrite's figures (nil when refused).
  public var summary: BatchSummary?
  /// Why the rewriter refused the program, if it did.
  public var refusal: RewriteError?
  /// Packets compared.
  public var packets = 0
  /// Packets whose verdict, output bytes or redirect target differ, plus
  /// map entries that differ after the last chunk.
  public var mismatches = 0
  /// The first difference found.
  public var firstDifference: Difference?
  /// Set when the batch form faulted; it is not run any further.
  public var failure: RunError?

  /// Describes a variant before any packet.
  public init(variant: BatchVariant, summary: BatchSummary? = nil, refusal: RewriteError? = nil) {
    self.variant = variant
    self.summary = summary
    self.refusal = refusal
  }

  /// Counts packet differences between the per-packet `expected` and the
  /// batch `actual` run of one chunk starting at packet `first`.
  mutating func compare(_ expected: RunReport, _ actual: RunReport, first: Int) {
    for (index, (want, got)) in zip(expected.outcomes, actual.outcomes).enumerated() {
      if let difference = Difference(want, got, packet: first + index) { record(difference) }
    }
    let missing = expected.outcomes.count - actual.outcomes.count
    if missing > 0 {
      record(.missing(packet: first + actual.outcomes.count), count: missing)
    }
  }

  private var mapMismatches = 0

  /// Replaces the map differences counted so far with those between
  /// `expected` and `actual` now (after packet `afterPacket`).
  mutating func compare(_ expected: MapContents, _ actual: MapContents, afterPacket: Int) {
    let count = actual.differenceCount(from: expected)
    mismatches += count - mapMismatches
    mapMismatches = count
    if count > 0, firstDifference == nil, let (map, key) = actual.firstDifference(from: expected) {
      firstDifference = .map(name: map, key: key, afterPacket: afterPacket)
    }
  }

  /// Counts one difference (or `count` packets of it: a fault counts every
  /// packet of its chunk).
  mutating func record(_ difference: Difference, count: Int = 1) {
    mismatches += count
    if firstDifference == nil { firstDifference = difference }
    if case .execution(let error) = difference { failure = error }
  }
}

/// The first way a batch form's result differs from the per-packet form's.
public enum Difference: Equatable, Sendable {
  /// Different verdicts (the low 32 bits of R0, as the kernel reads them).
  case verdict(packet: Int, expected: UInt32, actual: UInt32)
  /// Different bytes between `data` and `data_end` afterwards.
  case output(packet: Int, expectedLength: Int, actualLength: Int, firstDifferingByte: Int)
  /// Different redirect targets.
  case redirect(packet: Int, expected: RedirectTarget?, actual: RedirectTarget?)
  /// The batch form reported fewer packets than it was given.
  case missing(packet: Int)
  /// A map entry differs after the packets so far.
  case map(name: String, key: [UInt8], afterPacket: Int)
  /// The batch form faulted (the per-packet form did not).
  case execution(RunError)

  /// The difference between two outcomes of packet `packet`, if any.
  init?(_ expected: PacketOutcome, _ actual: PacketOutcome, packet: Int) {
    let want = UInt32(truncatingIfNeeded: expected.returnValue)
    let got = UInt32(truncatingIfNeeded: actual.returnValue)
    if want != got {
      self = .verdict(packet: packet, expected: want, actual: got)
    } else if expected.output != actual.output {
      let first =
        zip(expected.output, actual.output).enumerated().first { $0.element.0 != $0.element.1 }?
        .offset
        ?? min(expected.output.count, actual.output.count)
      self = .output(
        packet: packet, expectedLength: expected.output.count,
        actualLength: actual.output.count, firstDifferingByte: first)
    } else if expected.redirect != actual.redirect {
      self = .redirect(packet: packet, expected: expected.redirect, actual: actual.redirect)
    } else {
      return nil
    }
  }
}

extension Difference: CustomStringConvertible {
  /// One line naming the packet (or map entry) and both values.
  public var description: String {
    switch self {
    case .verdict(let packet, let expected, let actual):
      "packet \(packet): verdict \(Self.verdict(actual)), per-packet \(Self.verdict(expected))"
    case .output(let packet, let expectedLength, let actualLength, let byte):
      "packet \(packet): output differs at byte \(byte) (\(actualLength) bytes, per-packet \(expectedLength))"
    case .redirect(let packet, let expected, let actual):
      "packet \(packet): redirect target \(actual.map { "\($0)" } ?? "none"), per-packet \(expected.map { "\($0)" } ?? "none")"
    case .missing(let packet): "packet \(packet): the batch form reported no outcome"
    case .map(let name, let key, let packet):
      "map \(name) key \(key.map { String($0, radix: 16).leftPadded(2) }.joined()) differs after packet \(packet)"
    case .execution(let error): "the batch form faulted: \(error)"
    }
  }

  private static func verdict(_ value: UInt32) -> String {
    let action = XDPAction(returnValue: UInt64(value))
    return value <= 4 ? "\(action)" : "\(value) (\(action))"
  }
}

extension String {
  fileprivate func leftPadded(_ width: Int) -> String {
    String(repeating: "0", count: max(0, width - count)) + self
  }
}

extension RunError {
  /// The same error with its packet index moved by `offset` (a chunk's
  /// first packet).
  func offset(by offset: Int) -> RunError {
    switch self {
    case .execution(let packet, let error): .execution(packet: packet + offset, error)
    case .packetTooLarge(let packet, let size, let limit):
      .packetTooLarge(packet: packet + offset, size: size, limit: limit)
    case .batchIncomplete(let packet, let processed, let expected):
      .batchIncomplete(packet: packet + offset, processed: processed, expected: expected)
    case .packetOutsideFrame(let packet, let data, let end, let meta):
      .packetOutsideFrame(packet: packet + offset, data: data, end: end, meta: meta)
    case .addressSpace: self
    }
  }
}

/// Why a check could not run at all.
public enum EquivalenceError: Error, Equatable, Sendable {
  /// The batch size is not in 1...64.
  case invalidBatchSize(Int)
  /// A form of the program cannot be loaded into the engine.
  case unrunnable(program: String, reason: String)
  /// The per-packet form itself faulted, so there is nothing to compare with.
  case referenceFailed(RunError)
  /// Anything else (a bug).
  case unexpected(String)
}

extension EquivalenceError: CustomStringConvertible {
  /// A one-line message.
  public var description: String {
    switch self {
    case .invalidBatchSize(let size): "batch size \(size) is not between 1 and 64"
    case .unrunnable(let program, let reason):
      "program \(program) cannot run in the engine: \(reason)"
    case .referenceFailed(let error): "the per-packet form faulted: \(error)"
    case .unexpected(let message): "internal error: \(message)"
    }
  }
}

/// Seeded batch sizes, uniform in 1...largest.
struct BatchSizes {
  var state: UInt64
  let largest: Int

  init(seed: UInt64, largest: Int) {
    state = seed
    self.largest = max(largest, 1)
  }

  /// Sizes whose sum is at least `count`.
  mutating func next(covering count: Int) -> [Int] {
    var sizes: [Int] = []
    var total = 0
    while total < count {
      let size = 1 + Int(random() % UInt64(largest))
      sizes.append(size)
      total += size
    }
    return sizes
  }

  /// splitmix64.
  private mutating func random() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}
