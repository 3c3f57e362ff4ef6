import BPF
import Glibc

/// The XDP helpers that move packet bounds or copy packet bytes, with the
/// limits of net/core/filter.c: `xdp_adjust_head` keeps room for a
/// `struct xdp_frame` (40 bytes) plus metadata at the front and an Ethernet
/// header (14 bytes) of data; `xdp_adjust_meta` allows metadata in
/// multiples of 4 up to what `skb_shared_info.meta_len` (a `u8`) can hold,
/// as `xdp_metalen_invalid` checks since Linux 6.6 (it was 32 bytes
/// before); `xdp_adjust_tail` stays between data + 14 and the frame's hard
/// end.
///
/// The bounds come from the context record, which a program can write
/// (until the engine refuses context writes as the verifier does), so they
/// are checked against the frame before any arithmetic: `data_meta` above
/// `data` is the kernel's "no metadata" (`xdp_data_meta_unsupported`),
/// anything else outside `hard start <= data_meta <= data <= data_end <=
/// hard end` stops the run with the engine's error. No value traps.
extension Machine {
  /// `sizeof(struct xdp_frame)`, kept free at the start of every frame.
  static let xdpFrameSize: UInt64 = 40
  /// `ETH_HLEN`.
  static let ethernetHeaderLength: UInt64 = 14
  /// The most metadata bytes: `type_max(skb_shared_info.meta_len)`.
  static let metadataLimit: Int64 = 255

  /// A record's packet bounds, checked against its frame.
  private struct PacketBounds {
    var record: UInt64
    var frame: PacketFrame
    var data: UInt64
    var end: UInt64
    var meta: UInt64
    /// `xdp_data_meta_unsupported`: `data_meta` lies above `data`.
    var metaUnsupported: Bool { meta > data }
    /// `xdp_get_metalen`.
    var metaLength: UInt64 { metaUnsupported ? 0 : data - meta }
  }

  /// The packet bounds behind the context record R1 points to, from the
  /// runner's bookkeeping (``PacketFrame``), not from the record's fields,
  /// checked against the frame.
  private func packetBounds(_ id: HelperFunction, _ index: Int) throws(ExecutionError)
    -> PacketBounds
  {
    let record = registers[1]
    guard let frame = packetFrames.frame(at: record)?.pointee else {
      throw .helperFault(index: index, helper: id.rawValue, reason: "R1 is not an XDP context")
    }
    let (data, end, meta) = (frame.data, frame.end, frame.meta)
    let bounds = PacketBounds(record: record, frame: frame, data: data, end: end, meta: meta)
    guard frame.hardStart <= bounds.data, bounds.data <= bounds.end,
      bounds.end <= frame.hardEnd, bounds.metaUnsupported || frame.hardStart <= bounds.meta
    else {
      throw .helperFault(
        index: index, helper: id.rawValue,
        reason: "the context's packet bounds (data_meta \(hex(meta)), data \(hex(data)), "
          + "data_end \(hex(end))) lie outside its frame "
          + "[\(hex(frame.hardStart)), \(hex(frame.hardEnd)))")
    }
    return bounds
  }

  private func hex<Value: BinaryInteger>(_ value: Value) -> String {
    "0x" + String(value, radix: 16)
  }

  /// Moves the bounds: in the bookkeeping, and in the record's fields
  /// where the program reads them.
  private func setBounds(
    _ record: UInt64, data: UInt64? = nil, end: UInt64? = nil, meta: UInt64? = nil
  ) {
    guard let frame = packetFrames.frame(at: record) else { return }
    let layout = XDPContextLayout.engine
    if let data { frame.pointee.data = data }
    if let end { frame.pointee.end = end }
    if let meta { frame.pointee.meta = meta }
    addressSpace.writeWord(UInt32(frame.pointee.data), at: record + UInt64(layout.data))
    addressSpace.writeWord(UInt32(frame.pointee.end), at: record + UInt64(layout.dataEnd))
    addressSpace.writeWord(UInt32(frame.pointee.meta), at: record + UInt64(layout.dataMeta))
  }

  /// R2 as the helpers' `int offset`.
  private var signedOffset: Int64 { Int64(Int32(truncatingIfNeeded: registers[2])) }

  /// Moves `count` bytes inside one frame (both ranges already checked).
  private func move(_ count: UInt64, from source: UInt64, to target: UInt64) {
    guard count > 0, let from = addressSpace.pointer(source, count: Int(count)),
      let to = addressSpace.pointer(target, count: Int(count))
    else { return }
    memmove(to, from, Int(count))
  }

  func adjustHead(_ index: Int) throws(ExecutionError) -> UInt64 {
    let packet = try packetBounds(.xdpAdjustHead, index)
    let offset = signedOffset
    let metaLength = packet.metaLength
    let dataStart = Int64(packet.frame.hardStart + Self.xdpFrameSize + metaLength)
    let data = Int64(packet.data) + offset
    guard data >= dataStart, data <= Int64(packet.end) - Int64(Self.ethernetHeaderLength) else {
      return errno(-Errno.invalid)
    }
    // data_meta moves with data (kept above it when unsupported).
    let meta = UInt64(bitPattern: Int64(packet.meta) &+ offset)
    try chargeHelperWork(bytes: Int(metaLength), index)
    move(metaLength, from: packet.meta, to: meta)
    setBounds(packet.record, data: UInt64(data), meta: meta)
    return 0
  }

  func adjustMeta(_ index: Int) throws(ExecutionError) -> UInt64 {
    let packet = try packetBounds(.xdpAdjustMeta, index)
    if packet.metaUnsupported { return errno(-Errno.notSupported) }
    let meta = Int64(packet.meta) + signedOffset
    guard meta >= Int64(packet.frame.hardStart + Self.xdpFrameSize), meta <= Int64(packet.data)
    else { return errno(-Errno.invalid) }
    let metaLength = Int64(packet.data) - meta
    guard metaLength & 3 == 0, metaLength <= Self.metadataLimit else {
      return errno(-Errno.accessDenied)
    }
    setBounds(packet.record, meta: UInt64(meta))
    return 0
  }

  func adjustTail(_ index: Int) throws(ExecutionError) -> UInt64 {
    let packet = try packetBounds(.xdpAdjustTail, index)
    let offset = signedOffset
    let end = Int64(packet.end) + offset
    guard end <= Int64(packet.frame.hardEnd),
      end >= Int64(packet.data + Self.ethernetHeaderLength)
    else { return errno(-Errno.invalid) }
    // Growing clears what was past the old end, as the kernel does.
    if offset > 0, let tail = addressSpace.pointer(packet.end, count: Int(offset)) {
      try chargeHelperWork(bytes: Int(offset), index)
      tail.initializeMemory(as: UInt8.self, repeating: 0, count: Int(offset))
    }
    setBounds(packet.record, end: UInt64(end))
    return 0
  }

  /// `xdp_load_bytes` (store false) and `xdp_store_bytes` (store true), as
  /// `bpf_xdp_pointer`: offset or length above 0xffff is -EFAULT, a range
  /// past the packet -EINVAL; a buffer outside every region is the
  /// engine's fault (the verifier would refuse it).
  func copyPacketBytes(store: Bool, _ index: Int) throws(ExecutionError) -> UInt64 {
    let id: HelperFunction = store ? .xdpStoreBytes : .xdpLoadBytes
    let packet = try packetBounds(id, index)
    let offset = UInt64(UInt32(truncatingIfNeeded: registers[2]))
    let buffer = registers[3]
    let length = UInt64(UInt32(truncatingIfNeeded: registers[4]))
    guard offset <= 0xffff, length <= 0xffff else { return errno(-Errno.fault) }
    guard offset + length <= packet.end - packet.data else { return errno(-Errno.invalid) }
    guard length > 0 else { return 0 }
    let source = store ? buffer : packet.data + offset
    let target = store ? packet.data + offset : buffer
    try chargeHelperWork(bytes: Int(length), index)
    guard let from = addressSpace.pointer(source, count: Int(length)) else {
      throw .memoryFault(index: index, address: source, size: Int(length), write: false)
    }
    // The program's buffer (load) is a store of the program's: never a
    // context record's `struct xdp_md` (``AddressSpace/writablePointer``).
    guard let to = addressSpace.writablePointer(target, count: Int(length)) else {
      throw .memoryFault(index: index, address: target, size: Int(length), write: true)
    }
    memmove(to, from, Int(length))
    return 0
  }

  /// The program a `bpf_tail_call` jumps to, or nil when the call falls
  /// through (index out of range, empty slot, more than 33 tail calls), as
  /// the kernel interpreter's `JMP_TAIL_CALL`.
  func tailCallTarget(index: Int) throws(ExecutionError) -> PreparedProgram? {
    let id = HelperFunction.tailCall.rawValue
    guard !refusesTailCalls else {
      throw .helperFault(index: index, helper: id, reason: "tail calls cannot run in batch mode")
    }
    guard let map = map(handle: registers[2]), map.kind == .programArray else {
      throw .helperFault(index: index, helper: id, reason: "R2 is not a prog_array map")
    }
    let slot = UInt64(UInt32(truncatingIfNeeded: registers[3]))
    // As the kernel: an index past the end and the tail-call limit end the
    // call; the count rises before an empty slot is found.
    guard slot < UInt64(map.definition.maxEntries), tailCallCount < Machine.tailCallLimit else {
      return nil
    }
    tailCallCount += 1
    guard let target = map.programs[Int(slot)] else { return nil }
    runningPrograms.append(target)
    return target
  }
}
