import BPF
import Engine
import Kernel

/// Carrying out a batch's verdicts: TX on the socket's TX ring, DROP and
/// ABORTED back to the fill ring, PASS and REDIRECT gathered
/// (``GatheredSends``) and sent with later batches' by ``sendGathered()``.
extension QueueWorker {
  /// Carries out each verdict, in frame order or grouped by action (every
  /// drop, then TX and REDIRECT, then PASS); frames neither transmitted
  /// nor gathered go back to the fill ring. Leaves what became of each in
  /// ``outcomes`` (``ActionTally/Outcome/gathered`` for a frame counted at
  /// its send). `form`, `measured` and `now` are the batch's, for the
  /// gathered frames' timing.
  func act(count: Int, form: Form, measured: Bool, now: UInt64) {
    // The runner's own buffer, read in place.
    let verdicts = runner.lastVerdicts
    var transmits = 0
    for slot in 0..<count {
      outcomes[slot] = .done
      let verdict = verdicts[slot]
      if verdict.action == .tx,
        socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
      {
        transmits += 1
      }
    }
    var transmitIndex: UInt32 = 0
    var transmitRoom = 0
    if transmits > 0 {
      transmitRoom = Int(socket.socket.transmit.reserve(UInt32(transmits), at: &transmitIndex))
    }
    var rings = BatchRings(
      transmitIndex: transmitIndex, transmitRoom: transmitRoom, form: form, measured: measured,
      now: now)
    if groupActions {
      for slot in 0..<count {
        let action = verdicts[slot].action
        if action == .drop || action == .aborted { act(slot, verdicts[slot], &rings) }
      }
      for slot in 0..<count {
        let action = verdicts[slot].action
        if action == .tx || action == .redirect { act(slot, verdicts[slot], &rings) }
      }
      for slot in 0..<count where verdicts[slot].action == .pass {
        act(slot, verdicts[slot], &rings)
      }
    } else {
      for slot in 0..<count { act(slot, verdicts[slot], &rings) }
    }
    // Exactly the slots filled: a reserved slot left unwritten would be
    // handed to the kernel by the next submit.
    socket.giveBack(recycling, count: rings.recycled)
    if transmitRoom > 0 {
      socket.socket.transmit.submit(UInt32(rings.transmitted))
      socket.transmitted(rings.transmitted)
    }
  }

  /// Sends the gathered PASS and REDIRECT frames, gives their UMEM frames
  /// back to the fill ring and counts them. Their send's time is added to
  /// the forms that ran them, shared by frames (both forms run in a
  /// comparison window).
  func sendGathered() {
    let count = sends.count
    guard count > 0 else { return }
    let start = Self.now()
    sends.send()
    socket.giveBack(sends.chunks, count: count)
    var tally = ActionTally(over: tallyBuffer)
    var batchFrames = 0
    var measuredFrames = (perPacket: 0, batch: 0)
    for index in 0..<count {
      tally.add(
        sends.actions[index], bytes: UInt64(sends.lengths[index]),
        outcome: sends.outcomes[index], errno: sends.sendErrors[index])
      let batch = sends.forms[index] == .batch
      if batch { batchFrames += 1 }
      if sends.measured[index] {
        if batch { measuredFrames.batch += 1 } else { measuredFrames.perPacket += 1 }
      }
    }
    sends.clear()
    let slowPath = sends.slowPath
    let elapsed = Self.now() &- start
    func share(_ frames: Int) -> UInt64 { elapsed * UInt64(frames) / UInt64(count) }
    published.withLock { report in
      tally.add(to: &report)
      report.slowPath = slowPath
      report.timing.batch.add(
        packets: 0, programNanoseconds: nil, datapathNanoseconds: share(batchFrames))
      report.timing.perPacket.add(
        packets: 0, programNanoseconds: nil, datapathNanoseconds: share(count - batchFrames))
      report.comparison.batch.add(
        packets: 0, programNanoseconds: nil, datapathNanoseconds: share(measuredFrames.batch))
      report.comparison.perPacket.add(
        packets: 0, programNanoseconds: nil,
        datapathNanoseconds: share(measuredFrames.perPacket))
    }
  }

  /// The TX ring slots one batch reserved and used, the frames it gives
  /// back to the fill ring, and what its gathered frames carry.
  struct BatchRings {
    var transmitIndex: UInt32
    var transmitRoom: Int
    var form: Form
    var measured: Bool
    var now: UInt64
    var recycled = 0
    var transmitted = 0
  }

  @inline(__always) private func recycle(_ slot: Int, _ rings: inout BatchRings) {
    recycling[rings.recycled] = chunks[slot]
    rings.recycled += 1
  }

  /// The frame `verdict` leaves in `slot`'s UMEM frame, in host memory:
  /// where the runner's bookkeeping says the packet is (never what the
  /// program wrote into its context record), checked against the frame
  /// the kernel delivered; nil when it lies outside.
  @inline(__always) private func packet(_ slot: Int, _ verdict: LiveFrameRunner.Verdict)
    -> UnsafeMutableRawPointer?
  {
    guard socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
    else { return nil }
    return machine.addressSpace.hostMemory(at: verdict.data)
  }

  /// Carries out the verdict of `slot`.
  @inline(__always) private func act(
    _ slot: Int, _ verdict: LiveFrameRunner.Verdict, _ rings: inout BatchRings
  ) {
    switch verdict.action {
    case .tx:
      if rings.transmitted < rings.transmitRoom,
        socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
      {
        socket.socket.transmit.setDescriptor(
          XDPDescriptor(
            address: UInt64(verdict.data &- socket.region.start), length: verdict.length),
          at: rings.transmitIndex &+ UInt32(rings.transmitted))
        rings.transmitted += 1
      } else {
        outcomes[slot] = .transmitFailed
        recycle(slot, &rings)
      }
    case .redirect:
      outcomes[slot] = .redirectUnsent
      if let target = verdict.redirect, let pointer = packet(slot, verdict) {
        switch target {
        case .interface(let index), .device(_, _, let index):
          if sends.gatherRedirect(
            pointer, length: verdict.length, toInterface: index, chunk: chunks[slot],
            form: rings.form, measured: rings.measured, now: rings.now)
          {
            outcomes[slot] = .gathered
            return
          }
        case .socket:
          // The user's AF_XDP socket: this datapath's own sockets own the queues.
          outcomes[slot] = .redirectToSocket
        case .processor: outcomes[slot] = .redirectToProcessor
        case .broadcast: outcomes[slot] = .redirectBroadcast
        }
      }
      recycle(slot, &rings)
    case .pass:
      if let pointer = packet(slot, verdict),
        sends.gatherPass(
          pointer, length: verdict.length, chunk: chunks[slot], form: rings.form,
          measured: rings.measured, now: rings.now)
      {
        outcomes[slot] = .gathered
        return
      }
      outcomes[slot] = .passFailed
      recycle(slot, &rings)
    case .drop, .aborted:
      recycle(slot, &rings)
    }
  }
}
