import BPF

/// What the stack-frame analysis knows about a register or a spilled stack
/// slot: whether it holds the frame pointer R10 plus a known constant.
public enum FrameValue: Hashable, Sendable {
  /// Not written on any path that reaches here.
  case undefined
  /// A value not derived from R10 (a scalar, the context, a packet or map
  /// pointer).
  case other
  /// R10 plus a constant number of bytes.
  case frame(Int)
  /// Derived from R10, but the offset is not one known constant (a
  /// variable was added, or paths with different offsets meet).
  case variableFrame
  /// Paths disagree on whether the value is derived from R10 at all.
  case unknown

  /// Whether the value is, or may be, a pointer into the frame.
  public var mayPointIntoFrame: Bool {
    switch self {
    case .frame, .variableFrame, .unknown: true
    case .undefined, .other: false
    }
  }

  /// The value where two paths meet: equal values stay, `undefined` yields
  /// to the other side, two different offsets become ``variableFrame``, a
  /// frame pointer meeting anything else becomes ``unknown``.
  public func joined(with other: FrameValue) -> FrameValue {
    switch (self, other) {
    case _ where self == other: self
    case (.undefined, _): other
    case (_, .undefined): self
    case (.frame, .frame), (.frame, .variableFrame), (.variableFrame, .frame):
      .variableFrame
    default: .unknown
    }
  }
}

/// The analysis state at one instruction: every register, and every 8-byte
/// stack slot of the main frame that has been written.
public struct FrameState: Hashable, Sendable {
  /// R0–R10, by register number.
  public var registers: [FrameValue]
  /// Written slots, by their (8-aligned) offset from R10.
  public var slots: [Int: FrameValue]

  /// The state at a frame's entry: `defined` hold non-frame values, R10 is
  /// the frame pointer, the rest are undefined.
  init(entry defined: Set<Register>) {
    registers = (0...10).map {
      defined.contains(Register(rawValue: UInt8($0))) ? .other : .undefined
    }
    registers[10] = .frame(0)
    slots = [:]
  }

  /// The value of `register`.
  public subscript(register: Register) -> FrameValue {
    get { registers[Int(register.rawValue)] }
    set { registers[Int(register.rawValue)] = newValue }
  }

  /// The state where two paths meet.
  func joined(with other: FrameState) -> FrameState {
    var result = self
    for index in registers.indices {
      result.registers[index] = registers[index].joined(with: other.registers[index])
    }
    for (offset, value) in other.slots {
      result.slots[offset] = (slots[offset] ?? .undefined).joined(with: value)
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
