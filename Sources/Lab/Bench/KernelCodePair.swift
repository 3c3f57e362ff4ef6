import BPF
import Kernel

/// The kernel's own JIT code of a sample and of the empty program
/// (``KernelCodeCopy``), each called by a machine-code driver on one frame
/// at a time, the frame's context passed `repetitions` times in a row:
/// what ``KernelBench/netFigure(_:)`` times in each of its rounds beside
/// the engine's JIT (``JITPair``) and the kernel's test runs, on the same
/// slice of frames, by the same estimator.
struct KernelCodePair {
  private let copies: [KernelCodeCopy]
  private let repetitions: Int

  /// Copies the code of `program` (loaded from `instructions`) and of
  /// `empty` (loaded from ``KernelBench/emptyProgram``).
  ///
  /// - Throws: ``KernelCodeRefusal`` when the sample's code cannot run here.
  init(
    program: LoadedProgram, instructions: [Instruction], empty: LoadedProgram,
    repetitions: UInt32
  ) throws(KernelCodeRefusal) {
    copies = [
      try KernelCodeCopy(program: program, instructions: instructions),
      try KernelCodeCopy(program: empty, instructions: KernelBench.emptyProgram.instructions),
    ]
    self.repetitions = Int(max(repetitions, 1))
  }

  /// Each copy's ns per call over `frames`: per frame the faster of
  /// `tries` tries (the copies taking turns, the first alternating with
  /// `round` and the frame, as in the kernel's pass), each try on the
  /// frame staged afresh, the average over the frames.
  func time(_ frames: [[UInt8]], round: Int, tries: Int) -> [Double]? {
    guard !frames.isEmpty else { return nil }
    var sums = [0.0, 0.0]
    let clock = ContinuousClock()
    for (index, frame) in frames.enumerated() {
      var best = [Double.infinity, .infinity]
      for attempt in 0..<max(tries, 1) {
        for which in (round + index + attempt) % 2 == 0 ? [0, 1] : [1, 0] {
          let copy = copies[which]
          copy.stage(frame)
          let elapsed = clock.measure { copy.call(times: repetitions) }
          best[which] = min(best[which], elapsed.nanoseconds / Double(repetitions))
        }
      }
      for which in 0..<2 { sums[which] += best[which] }
    }
    return sums.map { $0 / Double(frames.count) }
  }
}
