import BPF
import CBPF
import Glibc

/// The user-space side of a BPF ring buffer map (libbpf's `ring_buffer`):
/// each record the programs submitted, handed over as raw bytes.
public final class RingBufferReader {
  private let ring: OpaquePointer
  private let sink: Sink
  /// The map read (kept open while the reader lives).
  public let map: KernelMap

  /// Collects records handed over by libbpf's callback.
  final class Sink {
    let onRecord: (UnsafeRawBufferPointer) -> Void
    init(_ onRecord: @escaping (UnsafeRawBufferPointer) -> Void) { self.onRecord = onRecord }
  }

  /// Reads `map` (a `BPF_MAP_TYPE_RINGBUF`), calling `onRecord` for each
  /// record during ``poll(timeoutMilliseconds:)``.
  public init(map: KernelMap, onRecord: @escaping (UnsafeRawBufferPointer) -> Void)
    throws(SystemCallError)
  {
    self.map = map
    let sink = Sink(onRecord)
    let callback: ring_buffer_sample_fn = { context, data, size in
      guard let context, let data else { return 0 }
      let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
      sink.onRecord(UnsafeRawBufferPointer(start: data, count: size))
      return 0
    }
    errno = 0
    guard
      let ring = ring_buffer__new(
        map.descriptor.rawValue, callback, Unmanaged.passUnretained(sink).toOpaque(), nil)
    else {
      throw SystemCallError("open the ring buffer of map \"\(map.info.name)\"", errno: .current)
    }
    self.ring = ring
    self.sink = sink
  }

  deinit { ring_buffer__free(ring) }

  /// Hands over the records that arrived within `timeoutMilliseconds`
  /// (returning as soon as some are there); how many, or none when a
  /// signal interrupted the wait.
  @discardableResult
  public func poll(timeoutMilliseconds: Int32) -> Int {
    max(0, Int(ring_buffer__poll(ring, timeoutMilliseconds)))
  }
}
