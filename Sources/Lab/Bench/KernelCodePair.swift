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

  /// Each copy's ns per call over `frames` (``PairRound``), each try on
  /// the frame staged afresh.
  func time(_ frames: [[UInt8]], round: Int, tries: Int) -> [Double]? {
    let clock = ContinuousClock()
    return PairRound.averages(frames, round: round, tries: tries) { which, frame in
      let copy = copies[which]
      copy.stage(frame)
      return clock.measure { copy.call(times: repetitions) }.nanoseconds / Double(repetitions)
    }
  }
}
