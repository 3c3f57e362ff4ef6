import BPF

/// What the action-counting pass adds for `xdpbatch capture`: after
/// counting, a frame whose verdict passes the filter is copied (its first
/// ``snapLength`` bytes, as they are at the verdict) with its verdict into
/// a BPF ring buffer, for user space to write to a pcap file.
///
/// Record layout (little-endian), ``headerSize`` bytes then the frame:
/// `u32 verdict` (the raw return value), `u32 frame length`,
/// `u64 bpf_ktime_get_ns()`, `u32 captured length`, `u32 rx queue`.
/// A full ring buffer drops the record, never the frame.
public struct VerdictCapture: Hashable, Sendable {
  /// Index of the ring-buffer map in the object's map table.
  public var ringBufferMapIndex: Int32
  /// Only frames with this verdict; `nil` for all.
  public var action: XDPAction?
  /// Bytes of each frame to copy (1...4096).
  public var snapLength: Int32

  /// Bytes before the frame in each record.
  public static let headerSize: Int32 = 24

  /// The ring buffer: `BPF_MAP_TYPE_RINGBUF`, `bytes` large (a power of
  /// two, a multiple of the page size).
  public static func ringBufferMap(bytes: UInt32 = 1 << 20) -> MapDefinition {
    MapDefinition(
      name: "xdpbatch_frames", type: .ringbuf, keySize: 0, valueSize: 0, maxEntries: bytes)
  }

  /// Configures a capture.
  public init(ringBufferMapIndex: Int32, action: XDPAction? = nil, snapLength: Int32 = 128) {
    self.ringBufferMapIndex = ringBufferMapIndex
    self.action = action
    self.snapLength = min(max(snapLength, 1), 4096)
  }

  /// The instructions, run with R6 = verdict and the context saved at
  /// `contextSlot`; they fall through at their end and may use R0–R5,
  /// R7–R9.
  func block(contextSlot: Int16, layout: XDPContextLayout) -> [Instruction] {
    let recordSize = Self.headerSize + snapLength
    // Built back to front: each jump's distance is the count of what follows it.
    let submit: [Instruction] = [
      .move(.r1, .r8),
      .move(.r2, immediate: 0),
      .call(helper: 132),  // bpf_ringbuf_submit
    ]
    let copy: [Instruction] = [
      .move(.r1, .r7),
      .move(.r2, immediate: 0),
      .move(.r3, .r8),
      .add(.r3, immediate: Self.headerSize),
      .call(helper: HelperFunction.xdpLoadBytes.rawValue),
    ]
    var record: [Instruction] = [
      .jump(.jeq, .r0, immediate: 0, offset: 0),  // patched below: to the end
      .move(.r8, .r0),
      .store(.word, .r6, to: .r8, offset: 0),
      .load(.doubleWord, .r7, from: .r10, offset: contextSlot),
      .load(.word, .r2, from: .r7, offset: layout.data),
      .load(.word, .r3, from: .r7, offset: layout.dataEnd),
      .arithmetic(.sub, .r3, .r2),
      .store(.word, .r3, to: .r8, offset: 4),
      .load(.word, .r2, from: .r7, offset: layout.receiveQueueIndex),
      .store(.word, .r2, to: .r8, offset: 20),
      .move(.r9, .r3),
      .call(helper: HelperFunction.ktimeGetNanoseconds.rawValue),
      .store(.doubleWord, .r0, to: .r8, offset: 8),
      .move(.r4, .r9),
      .jump(.jle, .r4, immediate: snapLength, offset: 1),
      .move(.r4, immediate: snapLength),
      .store(.word, .r4, to: .r8, offset: 16),
      .jump(.jlt, .r4, immediate: 1, offset: Int16(copy.count)),
    ]
    record += copy + submit
    record[0].offset = Int16(record.count - 1)
    var reserve = Instruction.loadImmediate64(
      .r1, UInt64(UInt32(bitPattern: ringBufferMapIndex)), kind: .mapByIndex)
    reserve += [
      .move(.r2, immediate: recordSize),
      .move(.r3, immediate: 0),
      .call(helper: 131),  // bpf_ringbuf_reserve
    ]
    var filter: [Instruction] = []
    if let action {
      let rest = reserve.count + record.count
      filter = [
        .arithmetic(.mov, .r1, .r6, wide: false),
        .jump(.jle, .r1, immediate: Int32(XDPAction.allCases.count - 1), offset: 1),
        .move(.r1, immediate: Int32(XDPAction.aborted.rawValue)),
        .jump(.jne, .r1, immediate: Int32(action.rawValue), offset: Int16(rest)),
      ]
    }
    return filter + reserve + record
  }
}
