import BPF

/// The XDP helpers that move packet bounds or copy packet bytes, with the
/// limits of net/core/filter.c: `xdp_adjust_head` keeps room for a
/// `struct xdp_frame` (40 bytes) plus metadata at the front and an Ethernet
/// header (14 bytes) of data; `xdp_adjust_meta` allows metadata in
/// multiples of 4 up to what `skb_shared_info.meta_len` (a `u8`) can hold,
/// as `xdp_metalen_invalid` checks since Linux 6.6 (it was 32 bytes
/// before); `xdp_adjust_tail` stays between data + 14 and the frame's hard
/// end.
extension Machine {
  /// `sizeof(struct xdp_frame)`, kept free at the start of every frame.
  static let xdpFrameSize: UInt64 = 40
  /// `ETH_HLEN`.
  static let ethernetHeaderLength: UInt64 = 14
  /// The most metadata bytes: `type_max(skb_shared_info.meta_len)`.
  static let metadataLimit: Int64 = 255

  /// The packet bounds behind the context record R1 points to, from the
  /// runner's bookkeeping (``PacketFrame``), not from the record's fields.
  private func packetBounds(_ id: HelperFunction, _ index: Int) throws(ExecutionError) -> (
    record: UInt64, frame: PacketFrame, data: UInt64, end: UInt64, meta: UInt64
  ) {
    let record = registers[1]
    guard let frame = packetFrames.frame(at: record)?.pointee else {
      throw .helperFault(index: index, helper: id.rawValue, reason: "R1 is not an XDP context")
    }
    return (record, frame, frame.data, frame.end, frame.meta)
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

  private var signedOffset: Int64 { Int64(Int32(truncatingIfNeeded: registers[2])) }

  func adjustHead(_ index: Int) throws(ExecutionError) -> UInt64 {
    let packet = try packetBounds(.xdpAdjustHead, index)
    let offset = signedOffset
    let metaLength = packet.data - packet.meta
    let dataStart = Int64(packet.frame.hardStart + Self.xdpFrameSize + metaLength)
    let data = Int64(packet.data) + offset
    guard data >= dataStart, data <= Int64(packet.end) - Int64(Self.ethernetHeaderLength) else {
      return errno(-Errno.invalid)
    }
    if metaLength > 0, let meta = addressSpace.read(packet.meta, count: Int(metaLength)) {
      addressSpace.write(meta, at: UInt64(Int64(packet.meta) + offset))
    }
    setBounds(packet.record, data: UInt64(data), meta: UInt64(Int64(packet.meta) + offset))
    return 0
  }

  func adjustMeta(_ index: Int) throws(ExecutionError) -> UInt64 {
    let packet = try packetBounds(.xdpAdjustMeta, index)
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
    if offset > 0 { addressSpace.write(Array(repeating: 0, count: Int(offset)), at: packet.end) }
    setBounds(packet.record, end: UInt64(end))
    return 0
  }

  /// `xdp_load_bytes` (store false) and `xdp_store_bytes` (store true).
  func copyPacketBytes(store: Bool, _ index: Int) throws(ExecutionError) -> UInt64 {
    let id: HelperFunction = store ? .xdpStoreBytes : .xdpLoadBytes
    let packet = try packetBounds(id, index)
    let offset = UInt64(UInt32(truncatingIfNeeded: registers[2]))
    let buffer = registers[3]
    let length = UInt64(UInt32(truncatingIfNeeded: registers[4]))
    guard offset <= 0xffff, length <= 0xffff else { return errno(-Errno.fault) }
    guard offset + length <= packet.end - packet.data else { return errno(-Errno.invalid) }
    let source = store ? buffer : packet.data + offset
    let target = store ? packet.data + offset : buffer
    let bytes = try bytes(at: source, count: Int(length), index)
    guard addressSpace.write(bytes, at: target) else {
      throw .memoryFault(index: index, address: target, size: Int(length), write: true)
    }
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
    let slot = Int(UInt32(truncatingIfNeeded: registers[3]))
    // As the kernel: an index past the end and the tail-call limit end the
    // call; the count rises before an empty slot is found.
    guard slot < Int(map.definition.maxEntries), tailCallCount < Machine.tailCallLimit else {
      return nil
    }
    tailCallCount += 1
    guard let target = map.programs[slot] else { return nil }
    runningPrograms.append(target)
    return target
  }
}
