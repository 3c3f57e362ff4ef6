import Kernel

/// Where the software datapath delivers PASS frames: into the interface's
/// own receive path, as if no datapath were there.
///
/// A frame AF_XDP took from an interface cannot be handed back to the
/// kernel on that interface, so it goes in through a TAP device: the
/// datapath writes it to the TAP, and a traffic-control filter at the
/// TAP's ingress (``IngressRedirect``: `u32` matching everything, `mirred
/// ingress redirect`) moves it into the interface's receive path before
/// the TAP's stack sees it. The host then receives it on the interface:
/// ARP and neighbour discovery update the interface's tables and answer
/// from it with its MAC, sockets bound to its addresses get their frames,
/// tcpdump on it sees them. `act_mirred` marks the frame redirected, so
/// the interface's XDP (native or generic) does not run it again; what the
/// host sends leaves through the interface as always (XDP sees ingress only).
///
/// The TAP has the interface's MAC and MTU (frames keep their bytes: the
/// TAP classifies them as for this host, and the interface does so again),
/// no ARP and no IPv6 address, so it never sends anything of its own, and
/// no address.
/// On a veth, TCP and UDP checksums the peer left to offload are computed
/// first (``OffloadedChecksum``). A batch's PASS frames are queued
/// (``PassQueue``, one a queue) and sent together:
/// one `sendmmsg` on a packet socket bound to the TAP, whose egress has
/// the same filter (a `write` to the TAP would take one system call per
/// frame). Each frame then costs an skb and a copy, the filter (one key
/// compared) and the redirect.
///
/// The device is not persistent: it goes when the datapath closes it or dies.
final class PassDevice {
  /// The TAP device.
  private let device: TapDevice

  /// The TAP device's name.
  var name: String { device.name }
  /// Whether the interface is a veth, whose peer leaves checksums to offload.
  private let completesChecksums: Bool
  /// Sends frames out of the TAP (into its egress filter), for every
  /// queue's ``PassQueue``.
  let sender: PacketSocket

  /// Makes the TAP device for interface `index` (`interface`), with its
  /// MAC and MTU, brings it up and redirects its ingress into the interface.
  init(interface: String, index: UInt32) throws(DatapathError) {
    let name = PassDeviceName.of(interfaceIndex: index)
    let found: LinkRecord?
    do {
      found = try LinkRecord.named(interface)
    } catch {
      throw .kernel(error)
    }
    guard let link = found else { throw .interfaceNotFound(interface) }
    do {
      device = try TapDevice(
        name: name,
        settings: LinkSettings(
          hardwareAddress: link.hardwareAddress.count == 6 ? link.hardwareAddress : nil,
          mtu: link.mtu > 0 ? link.mtu : nil, noARP: true, withoutIPv6Addresses: true, up: true))
    } catch {
      throw .passDevice(error)
    }
    completesChecksums = link.kind == "veth"
    do {
      try IngressRedirect.install(
        from: device.index, name: name, to: index, targetName: interface)
      sender = try PacketSocket(interfaceIndex: device.index)
    } catch {
      throw .passDevice(.configure(name: name, error))
    }
  }

  /// Removes the TAP device (once no queue sends into it) and returns when
  /// the kernel has.
  func remove() { device.remove() }

  /// Completes what the peer left to offload, on a veth.
  @inline(__always) func prepare(_ frame: UnsafeMutableRawPointer, length: Int) {
    if completesChecksums { OffloadedChecksum.complete(frame, length: length) }
  }
}

/// One queue's PASS frames of a batch, sent into the ``PassDevice``
/// together.
final class PassQueue {
  private let device: PassDevice
  /// Unchecked exclusivity: the queue belongs to one worker's
  /// ``GatheredSends`` and no access to it overlaps another; a checked
  /// access costs a call into the runtime, four a gathered frame.
  @exclusivity(unchecked) private var batch: PacketBatch
  private let slots: UnsafeMutablePointer<Int>
  private let errors: UnsafeMutablePointer<Int32>
  /// `sendmmsg` calls made (what the PASS path's system calls cost).
  private(set) var systemCalls: UInt64 = 0
  /// Frames those calls were given.
  private(set) var frames: UInt64 = 0

  /// Room for `capacity` frames a batch.
  init(device: PassDevice, capacity: Int) {
    self.device = device
    batch = PacketBatch(capacity: capacity)
    slots = .allocate(capacity: capacity)
    errors = .allocate(capacity: capacity)
  }

  deinit {
    slots.deallocate()
    errors.deallocate()
  }

  /// Queues frame `slot` for the interface's stack (its bytes must stay
  /// valid until ``flush(_:)``); false when it cannot go (shorter than an
  /// Ethernet header, or the queue full).
  @inline(__always)
  func enqueue(slot: Int, frame: UnsafeMutableRawPointer, length: Int) -> Bool {
    guard length >= 14, batch.count < batch.capacity else { return false }
    device.prepare(frame, length: length)
    slots[batch.count] = slot
    return batch.append(frame, length: length)
  }

  /// Sends the queued frames with one `sendmmsg` (more only for a frame
  /// the kernel refused) and tells `report` each one's slot and whether it
  /// went.
  func flush(_ report: (_ slot: Int, _ delivered: Bool) -> Void) {
    let count = batch.count
    guard count > 0 else { return }
    frames &+= UInt64(count)
    systemCalls &+= UInt64(batch.send(through: device.sender, errors: errors))
    for index in 0..<count { report(slots[index], errors[index] == 0) }
  }
}

/// The name of the TAP device PASS frames of an interface go through.
public enum PassDeviceName {
  /// `xdptIFINDEX`: unique among the namespace's interfaces whatever their
  /// names (any 15 characters, dots and dashes), at most 14 characters.
  public static func of(interfaceIndex index: UInt32) -> String { "xdpt\(index)" }

  /// The name for `interface` as it is now (its index); nil when it is gone.
  public static func `for`(_ interface: String) -> String? {
    NetworkInterface.index(of: interface).map { of(interfaceIndex: $0) }
  }
}

/// Sockets that send frames out of other interfaces, for REDIRECT verdicts
/// the software datapath carries out: a packet socket per target
/// interface, opened on first use. A batch's redirects are queued
/// (``enqueue(slot:frame:length:toInterface:)``) and sent together
/// (``flush(_:)``): one `sendmmsg` per target interface and batch, not a
/// `send` per frame. Loopback and missing interfaces cannot take XDP
/// redirects (the kernel fails them too): those count as redirect errors,
/// with the reason.
final class RedirectPorts {
  private var sockets: [UInt32: PacketSocket] = [:]
  /// Targets that could not be opened, when, and why: tried again after
  /// ``retryNanoseconds`` (an interface may come up or back).
  private var refused: [UInt32: (time: UInt64, errno: Int32)] = [:]
  static let retryNanoseconds: UInt64 = 100_000_000

  private let capacity: Int
  /// The queued frames, in frame order: slot, target, bytes.
  private let slots: UnsafeMutablePointer<Int>
  private let targets: UnsafeMutablePointer<UInt32>
  private let frames: UnsafeMutablePointer<UnsafeRawPointer>
  private let lengths: UnsafeMutablePointer<Int>
  /// Which queued frames went into the batch being sent, and their answers.
  private let members: UnsafeMutablePointer<Int>
  private let errors: UnsafeMutablePointer<Int32>
  private var queued = 0
  /// Unchecked exclusivity: the queue belongs to one worker's
  /// ``GatheredSends`` and no access to it overlaps another; a checked
  /// access costs a call into the runtime, four a gathered frame.
  @exclusivity(unchecked) private var batch: PacketBatch
  /// `sendmmsg` calls made (what the slow path's system calls cost).
  private(set) var systemCalls: UInt64 = 0
  /// Frames those calls were given.
  private(set) var sentFrames: UInt64 = 0

  /// Room for `capacity` frames a batch.
  init(capacity: Int) {
    self.capacity = capacity
    slots = .allocate(capacity: capacity)
    targets = .allocate(capacity: capacity)
    frames = .allocate(capacity: capacity)
    lengths = .allocate(capacity: capacity)
    members = .allocate(capacity: capacity)
    errors = .allocate(capacity: capacity)
    batch = PacketBatch(capacity: capacity)
  }

  deinit {
    slots.deallocate()
    targets.deallocate()
    frames.deallocate()
    lengths.deallocate()
    members.deallocate()
    errors.deallocate()
  }

  /// Queues frame `slot` for interface `index`; its bytes must stay valid
  /// until ``flush(_:)``. False when the queue is full (never, for a batch
  /// of at most `capacity` frames).
  @inline(__always)
  func enqueue(slot: Int, frame: UnsafeRawPointer, length: Int, toInterface index: UInt32)
    -> Bool
  {
    guard queued < capacity else { return false }
    slots[queued] = slot
    targets[queued] = index
    frames[queued] = frame
    lengths[queued] = length
    queued += 1
    return true
  }

  /// Sends what was queued, one `sendmmsg` per target interface (more only
  /// for a frame the kernel refused), and tells `report` each frame's slot
  /// and answer: 0 when it left, else the kernel's errno.
  func flush(_ report: (_ slot: Int, _ errno: Int32) -> Void) {
    var done = 0
    while done < queued {
      // The first target not sent yet, and every frame queued for it.
      let target = targets[done]
      var count = 0
      for index in done..<queued where targets[index] == target {
        members[count] = index
        count += 1
      }
      switch socket(for: target) {
      case .success(let socket):
        for member in 0..<count {
          _ = batch.append(frames[members[member]], length: lengths[members[member]])
        }
        sentFrames &+= UInt64(count)
        systemCalls &+= UInt64(batch.send(through: socket, errors: errors))
      case .failure(let refusal):
        for member in 0..<count { errors[member] = refusal.errno }
      }
      for member in 0..<count {
        report(slots[members[member]], errors[member])
        // Sent: out of the way of the next target's search.
        targets[members[member]] = .max
      }
      while done < queued && targets[done] == .max { done += 1 }
    }
    queued = 0
  }

  /// The socket for interface `index`, or why there is none.
  private func socket(for index: UInt32) -> Result<PacketSocket, RefusedTarget> {
    if let socket = sockets[index] { return .success(socket) }
    let now = QueueWorker.now()
    if let last = refused[index], now &- last.time < Self.retryNanoseconds {
      return .failure(RefusedTarget(errno: last.errno))
    }
    do {
      let socket = try PacketSocket(interfaceIndex: index)
      sockets[index] = socket
      refused[index] = nil
      return .success(socket)
    } catch {
      refused[index] = (now, error.errno.rawValue)
      return .failure(RefusedTarget(errno: error.errno.rawValue))
    }
  }

  /// Why a target has no socket: the errno of the attempt.
  struct RefusedTarget: Error {
    let errno: Int32
  }
}
