import BPF
import Engine
import Kernel

/// Carrying out a batch's verdicts: TX on the socket's TX ring, DROP and
/// ABORTED back to the fill ring, PASS and REDIRECT gathered
/// (``GatheredSends``) and sent with later batches' by ``sendGathered()``.
extension QueueWorker {
  /// Carries out each verdict, in frame order or grouped by action (every
  /// drop, then TX and REDIRECT, then PASS); frames neither transmitted
  /// nor gathered go back to the fill ring. Counts the batch into `tally`
  /// from the runner's per-action counts (``LiveFrameRunner/lastCount(_:)``)
  /// and corrects only the frames that did not end done (gathered frames
  /// count at their send, failures apart). A batch of DROP and ABORTED
  /// verdicts alone (xdp1's) goes back to the fill ring whole, with no
  /// verdict read again. `form`, `measured` and `now` are the batch's, for
  /// the gathered frames' timing.
  func act(count: Int, form: Form, measured: Bool, now: UInt64, tally: inout ActionTally) {
    // By raw value: `allCases` would make an array per batch.
    for raw in XDPAction.aborted.rawValue...XDPAction.redirect.rawValue {
      guard let action = XDPAction(rawValue: raw) else { continue }
      let frames = runner.lastCount(action)
      if frames > 0 { tally.add(action, packets: frames, bytes: runner.lastBytes(action)) }
    }
    let (transmits, passes, redirects) = (
      runner.lastCount(.tx), runner.lastCount(.pass), runner.lastCount(.redirect)
    )
    if transmits == 0 && passes == 0 && redirects == 0 {
      socket.giveBack(chunks, count: count)
      return
    }
    // The runner's own buffer, read in place.
    let verdicts = runner.lastVerdicts
    var transmitIndex: UInt32 = 0
    var transmitRoom = 0
    if transmits > 0 {
      var inside = 0
      for slot in 0..<count {
        let verdict = verdicts[slot]
        if verdict.action == .tx,
          socket.isInside(chunk: chunks[slot], address: verdict.data, length: verdict.length)
        {
          inside += 1
        }
      }
      if inside > 0 {
        transmitRoom = Int(socket.socket.transmit.reserve(UInt32(inside), at: &transmitIndex))
      }
    }
    var rings = BatchRings(
      transmitIndex: transmitIndex, transmitRoom: transmitRoom, form: form, measured: measured,
      now: now)
    @inline(__always) func act(_ slot: Int) {
      let verdict = verdicts[slot]
      let outcome = self.act(slot, verdict, &rings)
      if outcome != .done {
        tally.settle(verdict.action, bytes: UInt64(verdict.length), outcome: outcome)
      }
    }
    if groupActions {
      if count - transmits - passes - redirects > 0 {
        for slot in 0..<count {
          let action = verdicts[slot].action
          if action == .drop || action == .aborted { act(slot) }
        }
      }
      if transmits > 0 || redirects > 0 {
        for slot in 0..<count {
          let action = verdicts[slot].action
          if action == .tx || action == .redirect { act(slot) }
        }
      }
      if passes > 0 {
        for slot in 0..<count where verdicts[slot].action == .pass { act(slot) }
      }
    } else {
      for slot in 0..<count { act(slot) }
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

  /// Carries out the verdict of `slot`; returns what became of its frame.
  @inline(__always) private func act(
    _ slot: Int, _ verdict: LiveFrameRunner.Verdict, _ rings: inout BatchRings
  ) -> ActionTally.Outcome {
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
        return .done
      }
      recycle(slot, &rings)
      return .transmitFailed
    case .redirect:
      var outcome = ActionTally.Outcome.redirectUnsent
      if let target = verdict.redirect, let pointer = packet(slot, verdict) {
        switch target {
        case .interface(let index), .device(_, _, let index):
          if sends.gatherRedirect(
            pointer, length: verdict.length, toInterface: index, chunk: chunks[slot],
            form: rings.form, measured: rings.measured, now: rings.now)
          {
            return .gathered
          }
        case .socket:
          // The user's AF_XDP socket: this datapath's own sockets own the queues.
          outcome = .redirectToSocket
        case .processor: outcome = .redirectToProcessor
        case .broadcast: outcome = .redirectBroadcast
        }
      }
      recycle(slot, &rings)
      return outcome
    case .pass:
      if let pointer = packet(slot, verdict),
        sends.gatherPass(
          pointer, length: verdict.length, chunk: chunks[slot], form: rings.form,
          measured: rings.measured, now: rings.now)
      {
        return .gathered
      }
      recycle(slot, &rings)
      return .passFailed
    case .drop, .aborted:
      recycle(slot, &rings)
      return .done
    }
  }
}
