import BPF

/// How a change to a map value travels from an engine to the kernel: as
/// a delta per lane, each lane a little-endian integer added with
/// wrap-around. Lanes are 8-byte words (a value's offset 0, 8, ...; the
/// counters XDP programs keep are `__u64`s), and the 4, 2 and 1 bytes a
/// value whose size is no multiple of 8 ends with. A value the engine
/// overwrote arrives as new minus old, so where nothing else changed it
/// the kernel ends with exactly the engine's value; where the kernel
/// program changed it too, both changes add up. (A 32-bit counter packed
/// in a 64-bit lane can carry into its neighbour only when it wraps
/// between two exchanges while the kernel also changed it.)
struct ValueLanes: Sendable, Hashable {
  /// One lane: where it starts in the value, and its width.
  struct Lane: Sendable, Hashable {
    var offset: Int
    var size: AccessSize
  }

  /// The value's size in bytes.
  let valueSize: Int
  /// The lanes, in order, covering the value.
  let lanes: [Lane]

  /// The lanes of a value of `valueSize` bytes.
  init(valueSize: Int) {
    self.valueSize = valueSize
    var lanes: [Lane] = []
    var offset = 0
    for size in [AccessSize.doubleWord, .word, .halfWord, .byte] {
      while valueSize - offset >= size.bytes {
        lanes.append(Lane(offset: offset, size: size))
        offset += size.bytes
        if size != .doubleWord { break }
      }
    }
    self.lanes = lanes
  }

  /// `new - old` lane by lane (`old` nil: zeros, an entry the engine
  /// added); nil when the two are equal.
  func delta(from old: [UInt8]?, to new: [UInt8]) -> [UInt8]? {
    if let old, old == new { return nil }
    var delta = [UInt8](repeating: 0, count: valueSize)
    for lane in lanes {
      let width = lane.size.bytes
      let difference =
        Self.load(new, lane.offset, width) &- (old.map { Self.load($0, lane.offset, width) } ?? 0)
      for byte in 0..<width {
        delta[lane.offset + byte] = UInt8(truncatingIfNeeded: difference >> (8 * UInt64(byte)))
      }
    }
    return delta.allSatisfy { $0 == 0 } && old != nil ? nil : delta
  }

  /// `value + delta` lane by lane: what the fold leaves when nothing else
  /// changed the value.
  func adding(_ delta: [UInt8], to value: [UInt8]) -> [UInt8] {
    var sum = value
    for lane in lanes {
      let width = lane.size.bytes
      let total = Self.load(value, lane.offset, width) &+ Self.load(delta, lane.offset, width)
      for byte in 0..<width {
        sum[lane.offset + byte] = UInt8(truncatingIfNeeded: total >> (8 * UInt64(byte)))
      }
    }
    return sum
  }

  private static func load(_ bytes: [UInt8], _ offset: Int, _ width: Int) -> UInt64 {
    var value: UInt64 = 0
    for byte in (0..<width).reversed() where offset + byte < bytes.count {
      value = value << 8 | UInt64(bytes[offset + byte])
    }
    return value
  }
}
