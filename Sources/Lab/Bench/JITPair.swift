import BPF
import Deployment
import Engine

/// The engine's JIT on a sample and on the empty program, each called
/// directly by the machine-code driver (``DispatchLoop``, as the batching
/// table's `direct` row), timed the way the kernel's test run times a
/// program: on one frame at a time, one record called `repetitions` times
/// in a row (the kernel runs its program `repeat` times on one `xdp_buff`,
/// so the program's branches see the same frame every time). What
/// ``KernelBench/netFigure(_:)`` times in each of its rounds beside the
/// kernel's test runs, on the same slice of frames.
struct JITPair {
  /// The machine both programs run in (its maps hold what the sample's
  /// program counted).
  let machine: Machine
  private let runner: PacketRunner
  private let loops: [DispatchLoop]
  private let repetitions: Int

  init(source: ProgramSource, repetitions: UInt32) throws {
    let object = try BPFObject(contentsOf: source.objectPath)
    let program = try object.program(named: source.programName)
    let machine = try Machine(
      maps: object.maps, configuration: MachineConfiguration(engine: .jit))
    self.machine = machine
    let single = try machine.prepare(program)
    runner = try PacketRunner(machine: machine, program: single, form: .batch, batchSize: 1)
    self.repetitions = Int(max(repetitions, 1))
    let empty = try machine.prepare(KernelBench.emptyProgram)
    loops = try [single, empty].map {
      try DispatchLoop(machine: machine, program: $0, style: .direct)
    }
  }

  /// Each form's ns per call over `frames`: per frame the faster of
  /// `tries` tries (the forms taking turns, the first alternating with
  /// `round` and the frame as in the kernel's pass), the average over the
  /// frames, as the kernel's figure of the round.
  ///
  /// - Throws: the error a run stopped with (the round has no figure).
  func time(_ frames: [[UInt8]], round: Int, tries: Int) throws(ExecutionError) -> [Double]? {
    let clock = ContinuousClock()
    return try PairRound.averages(frames, round: round, tries: tries) {
      (which, frame) throws(ExecutionError) -> Double in
      let calls = loops[which].calls(calls(of: frame))
      let start = clock.now
      try loops[which].run(calls)
      return (clock.now - start).nanoseconds / Double(repetitions)
    }
  }

  /// The records of one timed run on `frame`: the frame staged afresh
  /// (a program that writes its frame, as xdp_tx's swap does, leaves it
  /// changed, as the kernel's repeats do within one test run but not
  /// across test runs) and its one record, `repetitions` times.
  func calls(of frame: [UInt8]) -> [UInt64] {
    [UInt64](repeating: runner.stage([frame][...])[0], count: repetitions)
  }
}

/// The estimator ``JITPair`` and ``KernelCodePair`` share with the
/// kernel's pass: on each frame both forms timed `tries` times, taking
/// turns (the first alternating with the round, the frame and the try),
/// each keeping its fastest; the round's figure per form its average
/// over the frames.
enum PairRound {
  /// `time(which, frame)` is one timed try of form `which` (0 the
  /// program, 1 the empty program) on `frame`, in ns per call; an error it
  /// throws stops the round without a figure. Nil for no frames.
  static func averages<Failure: Error>(
    _ frames: [[UInt8]], round: Int, tries: Int,
    time: (Int, [UInt8]) throws(Failure) -> Double
  ) throws(Failure) -> [Double]? {
    guard !frames.isEmpty else { return nil }
    var sums = [0.0, 0.0]
    for (index, frame) in frames.enumerated() {
      var best = [Double.infinity, .infinity]
      for attempt in 0..<max(tries, 1) {
        for which in (round + index + attempt) % 2 == 0 ? [0, 1] : [1, 0] {
          best[which] = min(best[which], try time(which, frame))
        }
      }
      for which in 0..<2 { sums[which] += best[which] }
    }
    return sums.map { $0 / Double(frames.count) }
  }
}
