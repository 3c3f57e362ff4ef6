import BPF
import CXDP
import Engine
import Glibc
import Synchronization

/// The loop of one receive queue: take up to 64 frames off the RX ring,
/// run the program on them in the current form, act on each verdict, and
/// publish what it counted. The form is read once per RX batch, so a swap
/// lands between two batches: no frame is run twice or skipped.
final class QueueWorker: @unchecked Sendable {
  let socket: QueueSocket
  let machine: Machine
  let runner: LiveFrameRunner
  let forms: ProgramForms
  let pass: PassDevice
  let state: DatapathState
  /// What this queue counted and timed, read by the flusher and status.
  let published = Mutex(QueueReport())
  /// The kernel's redirect maps this queue's machine follows; set before
  /// the worker's thread starts.
  var mirror: RedirectMapMirror?
  private var mirroredGeneration = 0

  private let ports = RedirectPorts()
  private let frames: UnsafeMutableBufferPointer<LiveFrameRunner.Frame>
  private let chunks: UnsafeMutablePointer<UInt64>
  private var outstandingTransmits = 0

  init(
    socket: QueueSocket, machine: Machine, runner: LiveFrameRunner, forms: ProgramForms,
    pass: PassDevice, state: DatapathState
  ) {
    self.socket = socket
    self.machine = machine
    self.runner = runner
    self.forms = forms
    self.pass = pass
    self.state = state
    frames = .allocate(capacity: LiveFrameRunner.maximumBatch)
    chunks = .allocate(capacity: LiveFrameRunner.maximumBatch)
  }

  deinit {
    frames.deallocate()
    chunks.deallocate()
  }

  /// Runs until the datapath stops.
  func run() {
    while !state.stopping.load(ordering: .relaxed) {
      followRedirectMaps()
      recycleCompletions()
      if !receiveBatch() {
        if outstandingTransmits > 0 { _ = cxdp_kick(socket.descriptor) }
        _ = cxdp_wait_readable(socket.descriptor, 20)
      }
    }
  }

  /// Applies the kernel's redirect maps to this queue's machine when they
  /// changed: here, between two RX batches, the machine is not running.
  private func followRedirectMaps() {
    guard let mirror, mirror.generation.load(ordering: .acquiring) != mirroredGeneration else {
      return
    }
    let (generation, entries) = mirror.snapshot()
    RedirectMapMirror.apply(entries, to: machine)
    mirroredGeneration = generation
  }

  /// Returns transmitted frames to the fill ring.
  private func recycleCompletions() {
    var index: UInt32 = 0
    let done = xsk_ring_cons__peek(socket.completion, QueueSocket.ringSize, &index)
    guard done > 0 else { return }
    var fillIndex: UInt32 = 0
    let reserved = xsk_ring_prod__reserve(socket.fill, done, &fillIndex)
    guard reserved == done else { return }  // the fill ring holds every frame: cannot happen
    for entry in 0..<done {
      let address = xsk_ring_cons__comp_addr(socket.completion, index &+ entry).pointee
      xsk_ring_prod__fill_addr(socket.fill, fillIndex &+ entry).pointee = chunk(address)
    }
    xsk_ring_prod__submit(socket.fill, done)
    xsk_ring_cons__release(socket.completion, done)
    outstandingTransmits -= Int(done)
  }

  @inline(__always) private func chunk(_ address: UInt64) -> UInt64 {
    address & ~UInt64(QueueSocket.frameSize - 1)
  }

  /// One RX batch; false when the ring was empty.
  private func receiveBatch() -> Bool {
    let start = Self.now()
    var index: UInt32 = 0
    let count = Int(
      xsk_ring_cons__peek(socket.receive, UInt32(LiveFrameRunner.maximumBatch), &index))
    guard count > 0 else { return false }
    let base = socket.region.start
    let usable = UInt32(QueueSocket.frameSize - PacketRunner.sharedInfoSize)
    for slot in 0..<count {
      let descriptor = xsk_ring_cons__rx_desc(socket.receive, index &+ UInt32(slot)).pointee
      let start = chunk(descriptor.addr)
      chunks[slot] = start
      frames[slot] = LiveFrameRunner.Frame(
        hardStart: base &+ UInt32(start), data: base &+ UInt32(descriptor.addr),
        length: descriptor.len, hardEnd: base &+ UInt32(start) &+ usable)
    }
    xsk_ring_cons__release(socket.receive, UInt32(count))

    let form = state.form
    let programStart = Self.now()
    switch form {
    case .batch where forms.batch != nil:
      runner.run(
        forms.batch!, frames: UnsafeBufferPointer(rebasing: frames[0..<count]),
        mode: .batch(size: LiveFrameRunner.maximumBatch), padded: forms.padded)
    default:
      runner.run(
        forms.perPacket, frames: UnsafeBufferPointer(rebasing: frames[0..<count]),
        mode: .perPacket)
    }
    let programEnd = Self.now()
    if let error = runner.lastError { state.note(error) }
    let outcomes = act(count: count)
    let end = Self.now()
    let ranForm: Form = (form == .batch && forms.batch != nil) ? .batch : .perPacket
    published.withLock { report in
      for slot in 0..<count {
        let verdict = runner.verdicts[slot]
        let bytes = UInt64(verdict.length)
        report.totals.actions[verdict.action].packets &+= 1
        report.totals.actions[verdict.action].bytes &+= bytes
        switch outcomes[slot] {
        case .redirectFailed(let reason):
          report.totals.redirectFailed.packets &+= 1
          report.totals.redirectFailed.bytes &+= bytes
          report.redirectFailures[reason] &+= 1
        case .passFailed:
          report.totals.passFailed.packets &+= 1
          report.totals.passFailed.bytes &+= bytes
        case .transmitFailed:
          report.totals.transmitFailed.packets &+= 1
          report.totals.transmitFailed.bytes &+= bytes
        case .done: break
        }
      }
      report.timing[ranForm].add(
        packets: count, programNanoseconds: programEnd &- programStart,
        datapathNanoseconds: end &- start)
    }
    return true
  }

  private enum Outcome {
    case done
    case redirectFailed(RedirectFailures.Reason)
    case passFailed, transmitFailed
  }

  /// Carries out each verdict; frames not transmitted go back to the fill ring.
  private func act(count: Int) -> [Outcome] {
    var outcomes = [Outcome](repeating: .done, count: count)
    let base = socket.region.start
    var transmits = 0
    for slot in 0..<count where runner.verdicts[slot].action == .tx { transmits += 1 }
    var transmitIndex: UInt32 = 0
    var transmitRoom = 0
    if transmits > 0 {
      transmitRoom = Int(xsk_ring_prod__reserve(socket.transmit, UInt32(transmits), &transmitIndex))
    }
    var transmitted = 0
    var recycled = 0
    var fillIndex: UInt32 = 0
    // Every frame not transmitted goes back to the fill ring, which has
    // room for all the UMEM's frames.
    let toRecycle = count - min(transmits, transmitRoom)
    let fillRoom =
      toRecycle > 0 ? Int(xsk_ring_prod__reserve(socket.fill, UInt32(toRecycle), &fillIndex)) : 0
    func recycle(_ slot: Int) {
      if recycled < fillRoom {
        xsk_ring_prod__fill_addr(socket.fill, fillIndex &+ UInt32(recycled)).pointee = chunks[slot]
        recycled += 1
      }
    }
    for slot in 0..<count {
      let verdict = runner.verdicts[slot]
      let offset = UInt64(verdict.data &- base)
      switch verdict.action {
      case .tx:
        if transmitted < transmitRoom {
          let descriptor = xsk_ring_prod__tx_desc(
            socket.transmit, transmitIndex &+ UInt32(transmitted))!
          descriptor.pointee.addr = offset
          descriptor.pointee.len = verdict.length
          descriptor.pointee.options = 0
          transmitted += 1
        } else {
          outcomes[slot] = .transmitFailed
          recycle(slot)
        }
      case .redirect:
        outcomes[slot] = .redirectFailed(.unsent)
        if let target = verdict.redirect,
          let pointer = machine.addressSpace.pointer(
            UInt64(verdict.data), count: Int(verdict.length))
        {
          switch target {
          case .interface(let index), .device(_, _, let index):
            if ports.send(pointer, length: Int(verdict.length), toInterface: index) {
              outcomes[slot] = .done
            }
          case .socket:
            // The user's AF_XDP socket: this datapath's own sockets own the queues.
            outcomes[slot] = .redirectFailed(.socket)
          case .processor: outcomes[slot] = .redirectFailed(.processor)
          case .broadcast: outcomes[slot] = .redirectFailed(.broadcast)
          }
        }
        recycle(slot)
      case .pass:
        if let pointer = machine.addressSpace.pointer(
          UInt64(verdict.data), count: Int(verdict.length)),
          pass.deliver(pointer, length: Int(verdict.length))
        {
        } else {
          outcomes[slot] = .passFailed
        }
        recycle(slot)
      case .drop, .aborted:
        recycle(slot)
      }
    }
    if recycled > 0 { xsk_ring_prod__submit(socket.fill, UInt32(recycled)) }
    if transmitRoom > 0 {
      xsk_ring_prod__submit(socket.transmit, UInt32(transmitted))
      outstandingTransmits += transmitted
      // Copy mode sends at most 32 frames a kick.
      for _ in 0..<((transmitted + 31) / 32) { _ = cxdp_kick(socket.descriptor) }
    }
    return outcomes
  }

  /// CLOCK_MONOTONIC in nanoseconds.
  @inline(__always) static func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
  }
}
