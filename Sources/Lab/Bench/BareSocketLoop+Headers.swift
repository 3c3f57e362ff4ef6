import BPF
import Datapath
import Engine
import Kernel

/// What the reading reference loops decide on each frame: the bytes the
/// samples read, read the way they read them (Samples/xdp1.bpf.c,
/// Samples/xdp_classify.bpf.c), in Swift.
extension BareSocketLoop {
  @inline(__always) static func byte(_ frame: QueueSocket.ReceivedFrame, _ offset: Int) -> UInt8 {
    frame.bytes.load(fromByteOffset: offset, as: UInt8.self)
  }

  @inline(__always) static func halfword(_ frame: QueueSocket.ReceivedFrame, _ offset: Int)
    -> UInt16
  {
    UInt16(byte(frame, offset)) << 8 | UInt16(byte(frame, offset + 1))
  }

  /// The protocol xdp1 counts `frame` under: the IPv4 protocol or IPv6
  /// next header behind the EtherType (after up to two 802.1Q / 802.1ad
  /// tags), 0 for other EtherTypes or a cut IP header; nil for a frame
  /// xdp1 drops uncounted (cut inside the Ethernet header or a tag).
  @inline(__always) static func ipProtocol(_ frame: QueueSocket.ReceivedFrame) -> Int? {
    let length = Int(frame.length)
    var offset = 14
    guard length >= offset else { return nil }
    var etherType = halfword(frame, 12)
    for _ in 0..<2 where etherType == 0x8100 || etherType == 0x88a8 {
      offset += 4
      guard length >= offset else { return nil }
      etherType = halfword(frame, offset - 2)
    }
    switch etherType {
    case 0x0800: return length >= offset + 20 ? Int(byte(frame, offset + 9)) : 0
    case 0x86dd: return length >= offset + 40 ? Int(byte(frame, offset + 6)) : 0
    default: return 0
    }
  }

  /// xdp_classify's verdict on `frame`: ABORTED for a frame cut short,
  /// DROP for IPv4 UDP to port 9, TX to port 7, REDIRECT for IPv6 TCP,
  /// PASS for the rest.
  @inline(__always) static func classification(_ frame: QueueSocket.ReceivedFrame) -> XDPAction {
    let length = Int(frame.length)
    guard length >= 14 else { return .aborted }
    switch halfword(frame, 12) {
    case 0x0800:
      guard length >= 34 else { return .aborted }
      guard byte(frame, 23) == 17 else { return .pass }
      guard length >= 42 else { return .aborted }
      switch halfword(frame, 36) {
      case 9: return .drop
      case 7: return .tx
      default: return .pass
      }
    case 0x86dd:
      guard length >= 54 else { return .aborted }
      return byte(frame, 20) == 6 ? .redirect : .pass
    default:
      return .pass
    }
  }

  /// ``Work/mixSends``' batch: reads and decides every frame, settles the
  /// rings (TX sent back, DROP and ABORTED recycled, PASS and REDIRECT
  /// kept), then gathers the kept ones for their send (one that cannot
  /// be gathered goes back to the fill ring, as the datapath's does).
  /// False when the TX ring had no room (nothing done).
  static func classifyAndSettle(_ queue: Queue, from index: UInt32, count: UInt32, now: UInt64)
    -> Bool
  {
    let socket = queue.socket
    socket.takeReceived(from: index, count: count, space: queue.space, into: queue.frames)
    for entry in 0..<Int(count) {
      let action = classification(queue.frames[entry])
      queue.decided[entry] = action
      switch action {
      case .tx: queue.dispositions[entry] = .sendBack
      case .pass, .redirect: queue.dispositions[entry] = .keep
      case .drop, .aborted: queue.dispositions[entry] = .recycle
      }
    }
    guard socket.settleReceived(from: index, count: count, dispositions: queue.dispositions)
    else { return false }
    guard let sends = queue.sends else { return true }
    for entry in 0..<Int(count) {
      let action = queue.decided[entry]
      queue.verdicts[Int(action.rawValue)] &+= 1
      guard queue.dispositions[entry] == .keep else { continue }
      var frame = queue.frames[entry]
      let gathered =
        action == .pass
        ? sends.gatherPass(
          frame.bytes, length: frame.length, chunk: frame.chunk, form: .perPacket,
          measured: false, now: now)
        : sends.gatherRedirect(
          frame.bytes, length: frame.length, toInterface: redirectInterface, chunk: frame.chunk,
          form: .perPacket, measured: false, now: now)
      if !gathered { socket.giveBack(&frame.chunk, count: 1) }
    }
    return true
  }

  /// Sends `queue`'s gathered frames and gives their UMEM frames back.
  static func sendGathered(_ queue: Queue) {
    guard let sends = queue.sends, sends.count > 0 else { return }
    sends.send()
    queue.socket.giveBack(sends.chunks, count: sends.count)
    sends.clear()
  }
}
