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
  public var ingressInterface: UInt32 {
    get { ingress }
    set { ingress = newValue }
  }
  /// The `rx_queue_index` every record carries.
  public var receiveQueue: UInt32 {
    get { queue }
    set { queue = newValue }
  }
  /// Verdicts of the last ``run(_:frames:form:padded:)``, one per frame, in
  /// order (a copy; ``lastVerdicts`` reads them in place).
  public var verdicts: [Verdict] { Array(lastVerdicts) }
  /// The last run's verdicts in the runner's own buffer (valid until the
  /// next run): what a datapath reads per batch, with no array copied,
  /// retained or checked for exclusive access.
  public var lastVerdicts: UnsafeBufferPointer<Verdict> {
    UnsafeBufferPointer(start: verdictBuffer, count: verdictCount)
  }
  /// How many verdicts of the last run are `action`: counted as they were
  /// read back, so that a datapath counts and groups a batch without
  /// reading its verdicts again.
  public func lastCount(_ action: XDPAction) -> Int { Int(counts[Int(action.rawValue)]) }
  /// The packet bytes (after the program) of the last run's `action`
  /// verdicts.
  public func lastBytes(_ action: XDPAction) -> UInt64 {
    counts[Self.actionCount + Int(action.rawValue)]
  }
  /// Why the last run's frames (or some of them) count as ABORTED, if a
  /// run faulted.
  public var lastError: RunError? { failure }
  /// Whether the frames lie in pages closed to programs
  /// (``AddressSpace/closePages(of:)``): each call then opens the frames
  /// it works on, its own per packet, the batch's in batch form, and
  /// closes them after, so no call reaches any other frame.
  public var lendsFrames: Bool {
    get { lends }
    set { lends = newValue }
  }

  // The storage behind the public properties: internal, so that the
  // per-frame path's reads and writes need no run-time exclusivity check
  // (each costs a call into the runtime on a public class property).
  var ingress: UInt32
  var queue: UInt32
  var failure: RunError?
  var lends = false
  /// The verdicts, ``maximumBatch`` of them, allocated once.
  let verdictBuffer: UnsafeMutablePointer<Verdict>
  var verdictCount = 0
  /// The per-packet form's return values (low 32 bits), one per frame.
  let returned: UnsafeMutablePointer<UInt32>
  /// The last run's verdicts per action, then their bytes per action.
  let counts: UnsafeMutablePointer<UInt64>
  static var actionCount: Int { Int(XDPAction.redirect.rawValue) + 1 }
  static var countWords: Int { 2 * actionCount }

  private let records: ContextRecords
  private let padding: Region

  /// Maps the context records (and one empty frame for padded batches).
  public init(machine: Machine, ingressInterface: UInt32 = 1, receiveQueue: UInt32 = 0)
    throws(RunError)
  {
    self.machine = machine
    ingress = ingressInterface
    queue = receiveQueue
    verdictBuffer = .allocate(capacity: Self.maximumBatch)
    counts = .allocate(capacity: Self.countWords)
    counts.initialize(repeating: 0, count: Self.countWords)
    returned = .allocate(capacity: Self.maximumBatch)
    returned.initialize(repeating: 0, count: Self.maximumBatch)
    do {
      records = try ContextRecords(
        machine: machine, count: Self.maximumBatch, name: "live context records")
      padding = try machine.addressSpace.map(
        length: AddressSpace.pageSize, name: "empty padding frame")
    } catch {
      verdictBuffer.deallocate()
      counts.deallocate()
      returned.deallocate()
      throw .addressSpace(error)
    }
  }

  deinit {
    verdictBuffer.deinitialize(count: verdictCount)
    verdictBuffer.deallocate()
    counts.deallocate()
    returned.deallocate()
  }

  /// Runs `program` over `frames` (at most ``maximumBatch``) and leaves one
  /// verdict per frame in ``verdicts``.
  ///
  /// - Parameters:
  ///   - form: per packet (one call a frame) or batch (one call; the
  ///     program must be the batch form).
  ///   - padded: batch form only: run the records of a partial batch up to
  ///     this many, with empty frames (what the `immediate` bound needs).
  public func run(
    _ program: PreparedProgram, frames: UnsafeBufferPointer<Frame>, form: Form,
    padded: Int? = nil
  ) {
    verdictBuffer.deinitialize(count: verdictCount)
    verdictCount = 0
    counts.update(repeating: 0, count: Self.countWords)
    failure = nil
    let count = min(frames.count, Self.maximumBatch)
    guard count > 0, let first = frames.baseAddress else { return }
    // One pass over the batch's frames fills every record (the frames'
    // bounds included); the program's calls then read them, and one pass
    // reads every verdict back, in both forms alike.
    for slot in 0..<count { fill(slot, first[slot]) }
    let processed: Int
    switch form {
    case .perPacket:
      processed = runPerPacket(program, first, count)
    case .batch:
      processed = runBatch(program, first, count, padded: padded)
    }
    for slot in 0..<count {
      // Records the batch form did not reach keep act = 0: ABORTED.
      let raw = form == .perPacket ? returned[slot] : records.action(slot)
      let action = slot < processed ? XDPAction(returnValue: UInt64(raw)) : .aborted
      append(verdict(slot, action, action == .redirect ? records.committedRedirect(slot) : nil))
    }
  }

  /// Calls `program` once a frame, as a driver does, each call lent its
  /// own frame; keeps each return value's low 32 bits (the kernel's `u32
  /// act`) in ``returned`` and a REDIRECT's target in the record's
  /// redirect slot, as the batch form's epilogue leaves them, both in the
  /// runner's memory (a later call cannot change an earlier verdict).
  /// Returns the records with a verdict: all of them.
  @inline(__always) private func runPerPacket(
    _ program: PreparedProgram, _ first: UnsafePointer<Frame>, _ count: Int
  ) -> Int {
    machine.refusesTailCalls = false
    // Armed once for the frames: the JIT's packet helpers find each
    // record's bounds there; and once for the batch's calls
    // (docs/DESIGN.md, "The runner").
    records.beginBatch(count, on: machine)
    let series = machine.beginSeries(program)
    for slot in 0..<count {
      let frame = first[slot]
      machine.pendingRedirect = nil
      machine.legacyPacket = (UInt64(frame.data), UInt64(frame.data) &+ UInt64(frame.length))
      // A frame lent from closed pages, inside its pages: trusted as lent.
      let fresh = lends && lend(frame) && frame.fitsItsPages
      do {
        let value = UInt32(
          truncatingIfNeeded: try machine.runInSeries(
            series, program, r1: records.address(slot), r2: 0,
            trusting: fresh ? records.trustedLent(slot) : records.trusted(slot)))
        returned[slot] = value
        if value == XDPAction.redirect.rawValue {
          records.commit(slot, redirect: machine.pendingRedirectWords)
        }
      } catch {
        failure = .execution(packet: slot, error)
        returned[slot] = XDPAction.aborted.rawValue
      }
      if lends { takeBack(frame) }
    }
    machine.pendingRedirect = nil
    return count
  }

  /// Calls the batch form once over the records (padded with empty frames
  /// up to `padded`), with every frame of the batch lent for that call.
  /// Returns the records the program reached (the rest are ABORTED).
  @inline(__always) private func runBatch(
    _ program: PreparedProgram, _ first: UnsafePointer<Frame>, _ count: Int, padded: Int?
  ) -> Int {
    let total = max(count, min(padded ?? count, Self.maximumBatch))
    let empty = UInt32(padding.start) + UInt32(PacketRunner.headroom)
    for slot in count..<total {
      fill(
        slot,
        Frame(hardStart: padding.start, data: empty, length: 0, hardEnd: padding.end))
      // The immediate bound's head skips records marked as padding, so
      // the program never runs on them (side effects once per packet).
      records.markPadding(slot)
    }
    records.beginBatch(total, on: machine)
    machine.refusesTailCalls = true
    // Frames lent from closed pages, each inside its pages: trusted as
    // lent (``ContextRecords/trustedCount(_:lent:)``).
    var fresh = lends
    if lends {
      for slot in 0..<count {
        let frame = first[slot]
        let closed = lend(frame)
        fresh = fresh && closed && frame.fitsItsPages
      }
    }
    defer {
      machine.refusesTailCalls = false
      if lends { machine.takeBackPages(of: first, count: count) }
    }
    let processed: UInt64
    do {
      // Every record of the batch tested, padding too, with every frame
      // lent: the code may trust the batch (first record and count).
      let trusting = records.trusted(0)
      let named = trusting == 0 ? 0 : records.trustedCount(total, lent: fresh ? count : 0)
      processed = try machine.runInSeries(
        machine.beginSeries(program), program, r1: records.address(0), r2: UInt64(total),
        trusting: trusting, count: named)
    } catch {
      failure = .execution(packet: 0, error)
      return 0
    }
    if processed != UInt64(total) {
      failure = .batchIncomplete(packet: 0, processed: processed, expected: total)
    }
    return Int(min(processed, UInt64(count)))
  }

  /// Record `slot`'s address in the machine's space (what R1 is in the
  /// per-packet form's call on frame `slot`).
  func recordAddress(_ slot: Int) -> UInt64 { records.address(slot) }

  /// Keeps the next verdict (at most ``maximumBatch`` a run) and counts
  /// it under its action (frames and bytes).
  @inline(__always) private func append(_ verdict: Verdict) {
    (verdictBuffer + verdictCount).initialize(to: verdict)
    verdictCount &+= 1
    let index = Int(verdict.action.rawValue)
    counts[index] &+= 1
    counts[Self.actionCount + index] &+= UInt64(verdict.length)
  }

  /// Opens `frame`'s pages to the program for one call; the JIT's access
  /// windows on other pages (the records', the stack's, map values') stay
  /// filled (``Machine/lendPages(from:to:)``).
  /// Returns whether the frame's pages were all closed before.
  @inline(__always) @discardableResult private func lend(_ frame: Frame) -> Bool {
    machine.lendPages(from: UInt64(frame.hardStart), to: UInt64(frame.hardEnd))
  }

  /// Closes `frame`'s pages again, and empties any access window filled
  /// from them.
  @inline(__always) private func takeBack(_ frame: Frame) {
    machine.takeBackPages(from: UInt64(frame.hardStart), to: UInt64(frame.hardEnd))
  }

  /// Fills record `slot` for `frame` and sets the frame's bounds.
  @inline(__always) private func fill(_ slot: Int, _ frame: Frame) {
    records.fill(slot, frame, ingressInterface: ingressInterface, receiveQueue: receiveQueue)
  }

  /// The verdict for record `slot`, with the packet bounds it holds now;
  /// ABORTED (and ``lastError`` says why) when a program that wrote its
  /// context left them outside the frame, so that the datapath never
  /// sends or passes bytes from outside the frame it gave.
  @inline(__always) private func verdict(
    _ slot: Int, _ action: XDPAction, _ redirect: RedirectTarget?
  ) -> Verdict {
    let (data, end) = records.packet(slot)
    guard records.packetInFrame(slot) else {
      failure = records.outsideFrame(slot, packet: slot)
      return Verdict(action: .aborted, data: data, length: 0, redirect: nil)
    }
    return Verdict(action: action, data: data, length: end - data, redirect: redirect)
  }
}
