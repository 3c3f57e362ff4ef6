/// What `bpf_trace_printk` printed on a machine: the newest lines, in a
/// ring of at most ``capacity`` bytes, like the kernel's trace buffer (a
/// ring that overwrites its oldest events). Programs print per packet, so
/// nothing they do can grow it: a line that does not fit pushes the oldest
/// out, and ``dropped`` counts what was lost before a reader took it.
///
/// Readers take the lines with ``Machine/takeTraceLines()`` (`xdpbatch run
/// --trace` prints them; the software datapath keeps only the newest);
/// what they took no longer counts against the ring or the memory budget.
public struct TraceLog: Sendable, Equatable {
  /// Bytes each line costs beyond its text (what a Swift string and its
  /// slot in the ring take).
  public static let lineOverhead = 32
  /// The longest line: `bpf_trace_printk` formats into a 1024-byte
  /// buffer (`MAX_BPRINTF_BUF`), its last byte the terminating NUL.
  public static let lineLimit = 1023
  /// The default ring size (64 KiB).
  public static let defaultCapacity = 64 << 10

  /// The most bytes the ring holds (text plus ``lineOverhead`` a line).
  public let capacity: Int
  /// Lines lost to the ring's size or the memory budget since the machine
  /// was made.
  public internal(set) var dropped = 0
  /// Lines printed since the machine was made (kept, taken or dropped).
  public internal(set) var printed = 0
  /// The ring's storage: ``lines`` are `storage[first...]`.
  private var storage: [String] = []
  private var first = 0
  /// Bytes the kept lines cost.
  public private(set) var bytes = 0

  /// An empty ring of `capacity` bytes.
  public init(capacity: Int = defaultCapacity) {
    self.capacity = max(0, capacity)
  }

  /// The kept lines, oldest first.
  public var lines: ArraySlice<String> { storage[first...] }

  /// What `line` costs in the ring.
  public static func cost(_ line: String) -> Int { line.utf8.count + lineOverhead }

  /// Adds a line (at most ``lineLimit`` bytes), pushing out the oldest
  /// lines until it fits; returns the bytes the ring grew or shrank by.
  @discardableResult
  mutating func append(_ line: String) -> Int {
    let before = bytes
    printed += 1
    let cost = Self.cost(line)
    guard cost <= capacity else {
      dropped += 1
      return 0
    }
    while bytes + cost > capacity, first < storage.count {
      bytes -= Self.cost(storage[first])
      first += 1
      dropped += 1
    }
    if first > 64, first * 2 > storage.count {
      storage.removeFirst(first)
      first = 0
    }
    storage.append(line)
    bytes += cost
    return bytes - before
  }

  /// Counts a line that was not kept (the memory budget is full).
  mutating func drop() {
    printed += 1
    dropped += 1
  }

  /// Removes and returns the kept lines, oldest first.
  mutating func take() -> [String] {
    let taken = Array(storage[first...])
    storage.removeAll(keepingCapacity: false)
    first = 0
    bytes = 0
    return taken
  }
}
