/// The `xdp_buff` bounds behind the context records, and the redirects
/// batch programs commit into them, by slot.
///
/// A runner's records sit at fixed slots of one region (start, stride), so
/// what belongs to each record lives in small arrays indexed by slot: a
/// runner sets a slot's bounds with one store per frame and reads its
/// committed redirect with one load, and the helpers find a record's slot
/// with a range check and a division, with no hashing on the per-frame
/// path. An address that is not the start of a registered slot whose
/// bounds were set has no frame (the helpers then refuse R1 as not an XDP
/// context).
final class PacketFrameTable {
  /// What one runner's records hold, by slot.
  struct Slots {
    /// The bounds of the frame behind each record.
    let bounds: UnsafeMutablePointer<PacketFrame>
    /// The redirect committed into each record (batch form), ``RedirectWords/none`` when none.
    let redirects: UnsafeMutablePointer<RedirectWords>
  }

  /// The records of one runner: `count` slots of `stride` bytes from `start`.
  private struct Block {
    var start: UInt64
    var stride: UInt64
    /// log2 of `stride` when it is a power of two (the engine's records),
    /// so that finding a slot takes no division; nil otherwise.
    var strideShift: UInt64?
    var count: Int
    var slots: Slots
  }

  /// The registered blocks. Unchecked exclusivity: only ``register`` (not
  /// during a run) writes it; the helpers read it on every packet.
  @exclusivity(unchecked) private var blocks: [Block] = []

  init() {}

  deinit {
    for block in blocks {
      block.slots.bounds.deallocate()
      block.slots.redirects.deallocate()
    }
  }

  /// Registers `count` records of `stride` bytes from `start` (no bounds
  /// set, no redirect committed) and returns their slots, owned by the
  /// table (they live as long as the machine).
  func register(records start: UInt64, stride: Int, count: Int) -> Slots {
    let capacity = max(count, 1)
    let slots = Slots(
      bounds: .allocate(capacity: capacity), redirects: .allocate(capacity: capacity))
    slots.bounds.initialize(repeating: .unset, count: capacity)
    slots.redirects.initialize(repeating: .none, count: capacity)
    let stride = UInt64(max(stride, 1))
    let shift = stride.nonzeroBitCount == 1 ? UInt64(stride.trailingZeroBitCount) : nil
    blocks.append(
      Block(start: start, stride: stride, strideShift: shift, count: count, slots: slots))
    return slots
  }

  /// The registered slot `record` is the start of, if any.
  @inline(__always)
  private func slot(of record: UInt64) -> (slots: Slots, index: Int)? {
    for block in blocks where record >= block.start {
      let offset = record &- block.start
      let slot: UInt64
      if let shift = block.strideShift {
        guard offset & (block.stride &- 1) == 0 else { continue }
        slot = offset >> shift
      } else {
        guard offset % block.stride == 0 else { continue }
        slot = offset / block.stride
      }
      guard slot < UInt64(block.count) else { continue }
      return (block.slots, Int(slot))
    }
    return nil
  }

  /// The bookkeeping of the frame behind the record at `record`, if set
  /// (the helpers that move the packet's bounds write through it).
  func frame(at record: UInt64) -> UnsafeMutablePointer<PacketFrame>? {
    guard let (slots, index) = slot(of: record) else { return nil }
    let frame = slots.bounds + index
    return frame.pointee.isSet ? frame : nil
  }

  /// Records `target` as the redirect committed into the record at
  /// `record`; false when `record` is no registered slot.
  func commit(_ target: RedirectWords, at record: UInt64) -> Bool {
    guard let (slots, index) = slot(of: record) else { return false }
    slots.redirects[index] = target
    return true
  }
}

extension PacketFrame {
  /// A slot whose bounds were never set.
  static let unset = PacketFrame(hardStart: 0, hardEnd: 0)

  /// Whether these are real bounds (a frame always ends above page 0).
  var isSet: Bool { hardEnd != 0 }
}
