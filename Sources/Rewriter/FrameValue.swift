import BPF

/// What the stack-frame analysis knows about a register or a spilled stack
/// slot: whether it holds the frame pointer R10 plus a known constant.
public enum FrameValue: Hashable, Sendable {
  /// Not written on any path that reaches here.
  case undefined
  /// A value not derived from R10 whose range is not tracked (the
  /// context, a packet or map pointer, a helper's result).
  case other
  /// A scalar whose range is tracked (a constant, a masked index, a loop
  /// counter), as the kernel verifier tracks it.
  case scalar(ScalarRange)
  /// R10 plus a constant number of bytes.
  case frame(Int)
  /// R10 plus a variable offset in `lower...upper` (a bounded index was
  /// added, or paths with different offsets meet). Bounds beyond
  /// ``FrameValue/offsetLimit`` mean the offset could not be bounded.
  case variableFrame(lower: Int, upper: Int)
  /// Paths disagree on whether the value is derived from R10 at all.
  case unknown

  /// The largest variable offset the kernel's verifier accepts on a
  /// pointer (`BPF_MAX_VAR_OFF`, 2^29).
  public static let offsetLimit = 1 << 29

  /// Whether the value is, or may be, a pointer into the frame.
  public var mayPointIntoFrame: Bool {
    switch self {
    case .frame, .variableFrame, .unknown: true
    case .undefined, .other, .scalar: false
    }
  }

  /// The scalar range the value is known to be in (anything not derived
  /// from R10 and not tracked: every value).
  var range: ScalarRange {
    if case .scalar(let range) = self { return range }
    return .unknown
  }

  /// The frame offsets the pointer may hold, if it points into the frame.
  var offsets: (lower: Int, upper: Int)? {
    switch self {
    case .frame(let offset): (offset, offset)
    case .variableFrame(let lower, let upper): (lower, upper)
    default: nil
    }
  }

  /// A frame pointer with offsets `lower...upper` (one offset: ``frame``).
  static func frame(_ lower: Int, _ upper: Int) -> FrameValue {
    lower == upper ? .frame(lower) : .variableFrame(lower: lower, upper: upper)
  }

  /// The value where two paths meet: equal values stay, `undefined` yields
  /// to the other side, frame pointers meet in the range covering both,
  /// scalars in the range covering both, a frame pointer meeting anything
  /// else becomes ``unknown``.
  public func joined(with other: FrameValue) -> FrameValue {
    switch (self, other) {
    case _ where self == other: self
    case (.undefined, _): other
    case (_, .undefined): self
    case (.scalar(let a), .scalar(let b)): .scalar(a.joined(with: b))
    case (.scalar, .other), (.other, .scalar): .other
    case _ where self.offsets != nil && other.offsets != nil:
      .frame(min(offsets!.lower, other.offsets!.lower), max(offsets!.upper, other.offsets!.upper))
    default: .unknown
    }
  }
}

/// The analysis state at one instruction: every register, and every 8-byte
/// stack slot of the main frame that has been written.
///
/// The registers are stored inline (no heap buffer), so that the analysis
/// keeps one state per instruction without one allocation per instruction.
public struct FrameState: Hashable, Sendable {
  /// R0–R10 (and R11–R15, never used), by register number.
  typealias RegisterFile = (
    FrameValue, FrameValue, FrameValue, FrameValue, FrameValue, FrameValue, FrameValue,
    FrameValue, FrameValue, FrameValue, FrameValue
  )
  private var file: RegisterFile
  /// Written slots, by their (8-aligned) offset from R10.
  public var slots: [Int: FrameValue]

  /// The state at a frame's entry: `defined` hold non-frame values, R10 is
  /// the frame pointer, the rest are undefined.
  init(entry defined: Set<Register>) {
    let u = FrameValue.undefined
    file = (u, u, u, u, u, u, u, u, u, u, u)
    slots = [:]
    for number in 0..<10 where defined.contains(Register(rawValue: UInt8(number))) {
      self[number] = .other
    }
    self[10] = .frame(0)
  }

  /// R0–R10, by register number.
  public var registers: [FrameValue] {
    get { (0..<Self.registerCount).map { self[$0] } }
    set {
      for number in 0..<Self.registerCount {
        self[number] = number < newValue.count ? newValue[number] : .undefined
      }
    }
  }

  static let registerCount = 11

  /// The value of `register`.
  public subscript(register: Register) -> FrameValue {
    get { self[Int(register.rawValue)] }
    set { self[Int(register.rawValue)] = newValue }
  }

  /// The value of register number `number` (0...10; anything else reads
  /// as undefined and is not stored, as an out-of-range register number
  /// cannot hold a frame pointer).
  subscript(number: Int) -> FrameValue {
    get {
      guard number >= 0 && number < Self.registerCount else { return .undefined }
      return withUnsafeBytes(of: file) {
        $0.load(fromByteOffset: number * MemoryLayout<FrameValue>.stride, as: FrameValue.self)
      }
    }
    set {
      guard number >= 0 && number < Self.registerCount else { return }
      withUnsafeMutableBytes(of: &file) {
        $0.storeBytes(
          of: newValue, toByteOffset: number * MemoryLayout<FrameValue>.stride, as: FrameValue.self)
      }
    }
  }

  public static func == (left: FrameState, right: FrameState) -> Bool {
    for number in 0..<registerCount where left[number] != right[number] { return false }
    return left.slots == right.slots
  }

  public func hash(into hasher: inout Hasher) {
    for number in 0..<Self.registerCount { hasher.combine(self[number]) }
    hasher.combine(slots)
  }

  /// The state where two paths meet.
  func joined(with other: FrameState) -> FrameState {
    var result = self
    for number in 0..<Self.registerCount {
      let joined = self[number].joined(with: other[number])
      if joined != self[number] { result[number] = joined }
    }
    for (offset, value) in other.slots {
      let current = slots[offset] ?? .undefined
      let joined = current.joined(with: value)
      if joined != current || slots[offset] == nil { result.slots[offset] = joined }
    }
    return result
  }

  /// Marks every slot that `[offset, offset + size)` touches as holding
  /// `value` (an 8-byte aligned spill) or a plain value.
  mutating func write(offset: Int, size: Int, value: FrameValue) {
    let first = offset - ((offset % 8) + 8) % 8
    for slot in stride(from: first, to: offset + size, by: 8) {
      slots[slot] = size == 8 && slot == offset ? value : .other
    }
  }
}
