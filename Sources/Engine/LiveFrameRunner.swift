import BPF

/// Runs a program over frames that already sit in the machine's address
/// space (the software datapath maps its AF_XDP UMEM as a region), in
/// place: nothing is copied in or out, and the verdict's `data`/`length`
/// say where the program left the packet.
///
/// The per-packet form calls the program once per frame, as a driver
/// does; the batch form calls the rewritten program once over all the
/// frames' context records (docs/DESIGN.md, "Batch calling convention").
/// A run that faults is not fatal: its frames count as ABORTED and
/// ``lastError`` says why, as the datapath must keep going.
public final class LiveFrameRunner {
  /// The most frames one call takes.
  public static let maximumBatch = PacketRunner.maximumBatch

  /// Where one frame's bytes are, as 32-bit addresses of the space.
  public struct Frame: Hashable, Sendable {
    /// Start of the buffer (headroom included): `data_hard_start`.
    public var hardStart: UInt32
    /// First byte of the packet.
    public var data: UInt32
    /// Packet length in bytes.
    public var length: UInt32
    /// End of usable tailroom: `data_hard_end`.
    public var hardEnd: UInt32

    /// Describes a frame.
    public init(hardStart: UInt32, data: UInt32, length: UInt32, hardEnd: UInt32) {
      self.hardStart = hardStart
      self.data = data
      self.length = length
      self.hardEnd = hardEnd
    }
  }

  /// What the program decided for one frame, and where it left the packet.
  public struct Verdict: Hashable, Sendable {
    /// The action (anything above REDIRECT is ABORTED, as in the kernel).
    public var action: XDPAction
    /// The packet's first byte after the program (it may have moved).
    public var data: UInt32
    /// The packet's length after the program.
    public var length: UInt32
    /// For REDIRECT: where to, as the program's helper call recorded it.
    public var redirect: RedirectTarget?
  }

  /// The machine the programs run on.
  public let machine: Machine
  /// The `ingress_ifindex` every record carries.
  public var ingressInterface: UInt32
  /// The `rx_queue_index` every record carries.
  public var receiveQueue: UInt32
  /// Verdicts of the last ``run(_:frames:mode:padded:)``, one per frame, in order.
  public private(set) var verdicts: [Verdict] = []
  /// Why the last run's frames (or some of them) count as ABORTED, if a
  /// run faulted.
  public private(set) var lastError: RunError?

  private let layout = XDPContextLayout.engine
  private let records: Region
  private let padding: Region
  /// The records region's host memory (mapped by init, never moved): the
  /// runner fills and reads its own records without a bounds check each.
  private let recordBytes: UnsafeMutableRawPointer
  /// The frame bounds and committed redirects of each record slot,
  /// registered with the machine once: one store or load per frame.
  private let slots: PacketFrameTable.Slots

  /// Maps the context records (and one empty frame for padded batches).
  public init(machine: Machine, ingressInterface: UInt32 = 1, receiveQueue: UInt32 = 0)
    throws(RunError)
  {
    self.machine = machine
    self.ingressInterface = ingressInterface
    self.receiveQueue = receiveQueue
    do {
      records = try machine.addressSpace.map(
        length: Self.maximumBatch * Int(layout.stride), name: "live context records")
      padding = try machine.addressSpace.map(
        length: AddressSpace.pageSize, name: "empty padding frame")
    } catch {
      throw .addressSpace(error)
    }
    recordBytes = machine.addressSpace.pointer(UInt64(records.start), count: records.length)!
    slots = machine.packetFrames.register(
      records: UInt64(records.start), stride: Int(layout.stride), count: Self.maximumBatch)
    verdicts.reserveCapacity(Self.maximumBatch)
  }

  @inline(__always) private func recordAddress(_ slot: Int) -> UInt64 {
    UInt64(records.start) &+ UInt64(slot) &* UInt64(layout.stride)
  }

  /// Record `slot`'s bytes (slot < ``maximumBatch``, inside the region).
  @inline(__always) private func recordFields(_ slot: Int) -> UnsafeMutableRawPointer {
    recordBytes + slot &* Int(layout.stride)
  }

  /// Runs `program` over `frames` (at most ``maximumBatch``) and leaves one
  /// verdict per frame in ``verdicts``.
  ///
  /// - Parameters:
  ///   - mode: per-packet (one call a frame) or batch (one call; the
  ///     program must be the batch form).
  ///   - padded: batch mode only: run the records of a partial batch up to
  ///     this many, with empty frames (what the `immediate` bound needs).
  public func run(
    _ program: PreparedProgram, frames: UnsafeBufferPointer<Frame>, mode: RunMode,
    padded: Int? = nil
  ) {
    // The verdicts are built in a local array (one uniquely held buffer,
    // no access check per append) and stored back at the end.
    var verdicts = self.verdicts
    self.verdicts = []
    verdicts.removeAll(keepingCapacity: true)
    defer { self.verdicts = verdicts }
    lastError = nil
    let count = min(frames.count, Self.maximumBatch)
    guard count > 0, let first = frames.baseAddress else { return }
    for slot in 0..<count { fill(slot, first[slot]) }
    switch mode {
    case .perPacket:
      machine.refusesTailCalls = false
      for slot in 0..<count {
        let frame = first[slot]
        machine.pendingRedirect = nil
        machine.legacyPacket = (UInt64(frame.data), UInt64(frame.data) &+ UInt64(frame.length))
        do {
          let value = try machine.run(program, r1: recordAddress(slot))
          let action = XDPAction(returnValue: value & 0xffff_ffff)
          verdicts.append(
            verdict(slot, action, action == .redirect ? machine.pendingRedirect : nil))
        } catch {
          lastError = .execution(packet: slot, error)
          verdicts.append(verdict(slot, .aborted, nil))
        }
      }
      machine.pendingRedirect = nil
    case .batch:
      let total = max(count, min(padded ?? count, Self.maximumBatch))
      let empty = UInt32(padding.start) + UInt32(PacketRunner.headroom)
      for slot in count..<total {
        fill(
          slot,
          Frame(hardStart: padding.start, data: empty, length: 0, hardEnd: padding.end))
        // The immediate bound's head skips records marked as padding, so
        // the program never runs on them (side effects once per packet).
        recordFields(slot).storeBytes(
          of: UInt32(XDPContextLayout.paddingAction), toByteOffset: Int(layout.action),
          as: UInt32.self)
      }
      for slot in 0..<total { slots.redirects[slot] = nil }
      if !machine.committedRedirects.isEmpty {
        machine.committedRedirects.removeAll(keepingCapacity: true)
      }
      machine.pendingRedirect = nil
      machine.refusesTailCalls = true
      defer { machine.refusesTailCalls = false }
      let processed: UInt64
      do {
        processed = try machine.run(program, r1: recordAddress(0), r2: UInt64(total))
      } catch {
        lastError = .execution(packet: 0, error)
        for slot in 0..<count { verdicts.append(verdict(slot, .aborted, nil)) }
        return
      }
      if processed != UInt64(total) {
        lastError = .batchIncomplete(packet: 0, processed: processed, expected: total)
      }
      for slot in 0..<count {
        let value = recordFields(slot).loadUnaligned(
          fromByteOffset: Int(layout.action), as: UInt32.self)
        // Records the program did not reach keep act = 0: ABORTED.
        let action =
          UInt64(slot) < processed ? XDPAction(returnValue: UInt64(value)) : .aborted
        verdicts.append(verdict(slot, action, action == .redirect ? slots.redirects[slot] : nil))
      }
    }
  }

  /// Fills record `slot` for `frame` and sets the frame's bounds.
  @inline(__always) private func fill(_ slot: Int, _ frame: Frame) {
    slots.bounds[slot] = PacketFrame(
      hardStart: UInt64(frame.hardStart), hardEnd: UInt64(frame.hardEnd))
    let fields = recordFields(slot)
    func set(_ offset: Int16, _ value: UInt32) {
      fields.storeBytes(of: value, toByteOffset: Int(offset), as: UInt32.self)
    }
    set(layout.data, frame.data)
    set(layout.dataEnd, frame.data &+ frame.length)
    set(layout.dataMeta, frame.data)
    set(layout.ingressInterfaceIndex, ingressInterface)
    set(layout.receiveQueueIndex, receiveQueue)
    set(layout.egressInterfaceIndex, 0)
    set(layout.action, 0)
    set(XDPContextLayout.engineRedirectSlot, 0)
  }

  /// The verdict for record `slot`, with the packet bounds it holds now.
  @inline(__always) private func verdict(
    _ slot: Int, _ action: XDPAction, _ redirect: RedirectTarget?
  ) -> Verdict {
    let fields = recordFields(slot)
    let data = fields.loadUnaligned(fromByteOffset: Int(layout.data), as: UInt32.self)
    let end = fields.loadUnaligned(fromByteOffset: Int(layout.dataEnd), as: UInt32.self)
    return Verdict(
      action: action, data: data, length: end > data ? end - data : 0, redirect: redirect)
  }
}
