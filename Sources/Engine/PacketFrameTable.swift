/// The `xdp_buff` bounds behind the context records, by slot.
///
/// A runner's records sit at fixed slots of one region (start, stride), so
/// the bounds of the frame behind each record live in a small array indexed
/// by slot: a runner sets a slot's bounds with one store per frame, and the
/// packet helpers find them with a range check and a division, with no
/// hashing on the per-frame path. An address that is not the start of a
/// registered slot whose bounds were set has no frame (the helpers then
/// refuse R1 as not an XDP context).
final class PacketFrameTable {
  /// The records of one runner: `count` slots of `stride` bytes from `start`.
  private struct Block {
    var start: UInt64
    var stride: UInt64
    var count: Int
    var frames: UnsafeMutablePointer<PacketFrame>
  }

  private var blocks: [Block] = []

  init() {}

  deinit {
    for block in blocks { block.frames.deallocate() }
  }

  /// Registers `count` records of `stride` bytes from `start` (no bounds
  /// set yet) and returns their slots' bounds, owned by the table (they
  /// live as long as the machine).
  func register(records start: UInt64, stride: Int, count: Int)
    -> UnsafeMutablePointer<PacketFrame>
  {
    let frames = UnsafeMutablePointer<PacketFrame>.allocate(capacity: max(count, 1))
    frames.initialize(repeating: .unset, count: max(count, 1))
    blocks.append(Block(start: start, stride: UInt64(max(stride, 1)), count: count, frames: frames))
    return frames
  }

  /// The bounds of the frame behind the record at `record`, if set.
  func frame(at record: UInt64) -> PacketFrame? {
    for block in blocks where record >= block.start {
      let offset = record &- block.start
      let slot = offset / block.stride
      guard slot < UInt64(block.count), offset % block.stride == 0 else { continue }
      let frame = block.frames[Int(slot)]
      return frame.isSet ? frame : nil
    }
    return nil
  }
}

extension PacketFrame {
  /// A slot whose bounds were never set.
  static let unset = PacketFrame(hardStart: 0, hardEnd: 0)

  /// Whether these are real bounds (a frame always ends above page 0).
  var isSet: Bool { hardEnd != 0 }
}
