import BPF
import Deployment
import Foundation
import Frames
import Kernel

/// The kernel's side of `xdpbatch bench`: what a program costs in the
/// kernel, measured two ways.
///
/// - ``netFigure(_:)``: `BPF_PROG_TEST_RUN` with `repeat` on the frames
///   of the mix, the kernel's own average per run, for the program (loaded
///   as compiled, no counting, like the engine runs it) and for a program
///   that only returns (``emptyProgram``), test-run back to back in
///   interleaved rounds. The program's average includes the test-run loop
///   (the dispatcher's call and `bpf_test_run`'s step: its
///   timer and reschedule checks); the empty program's is that loop alone, and the
///   median of the rounds' differences is the program net of it. Each
///   round also times both again by the kernel's run statistics
///   (``KernelClock``), on for that pass alone.
/// - ``liveRates(_:)``: frames generated for ``liveDuration`` seconds from
///   the far end of a veth pair whose host end runs the program (native
///   XDP, instrumented with counting); millions of packets per second the
///   program processed.
public struct KernelBench: Sendable {
  /// The frames each program sees.
  public var frames: [FrameTemplate]
  /// `BPF_PROG_TEST_RUN`'s `repeat`: runs per test run of one frame.
  public var repetitions: UInt32
  /// Rounds of ``netFigure(_:)`` (after one that warms up).
  public var netRounds: Int
  /// Also time each round a second time with the kernel's run statistics
  /// on (``KernelNetFigure/runTimeStatistics``). Off by default: the
  /// switch is machine-wide while held, so every BPF program on the
  /// machine (an operator's XDP programs, other test runs) pays two clock
  /// reads a run meanwhile (`bench --kernel-statistics`).
  public var kernelStatistics = false
  /// Seconds of live traffic per program.
  public var liveDuration: Double
  /// The veth pair and namespace for live traffic (made and removed by
  /// ``liveRates(_:)``).
  public var network: Demo

  /// Describes a bench.
  public init(
    frames: [FrameTemplate] = TrafficMix.classifier().frames, repetitions: UInt32 = 20_000,
    liveDuration: Double = 2, netRounds: Int = 8,
    network: Demo = Demo(namespace: "xdpbatch-bench", interface: "xdpbench0", peer: "xdpbench1")
  ) {
    self.frames = frames
    self.repetitions = max(1, repetitions)
    self.liveDuration = liveDuration
    self.netRounds = max(1, netRounds)
    self.network = network
  }

  /// `r0 = XDP_PASS; exit`.
  static let emptyProgram = Program(
    name: "xdpbatch_empty", sectionName: "xdp",
    instructions: [.move(.r0, immediate: Int32(XDPAction.pass.rawValue)), .exit])

  /// Millions of packets per second each program processed on the live
  /// veth, in `sources` order. The network is made first and removed
  /// afterwards, also on failure.
  public func liveRates(_ sources: [ProgramSource]) throws(KernelBenchError) -> [Double] {
    network.down()
    defer { network.down() }
    do {
      _ = try NetworkNamespace.create(network.namespace.name)
      try network.veth.create()
    } catch {
      throw .plumbing(error)
    }
    let deployment = ProgramDeployment(state: network.state)
    var rates: [Double] = []
    for source in sources {
      let attachment: XDPAttachment
      do {
        try deployment.attach(source, to: network.veth.name, mode: .native)
        attachment = try deployment.current(interface: network.veth.name).0
      } catch {
        throw .deployment(error)
      }
      rates.append(try liveRate(attachment))
    }
    return rates
  }

  private func liveRate(_ attachment: XDPAttachment) throws(KernelBenchError) -> Double {
    func counted() throws(KernelBenchError) -> UInt64 {
      do { return try attachment.counters.read().totalPackets } catch { throw .kernel(error) }
    }
    let before = try counted()
    let start = Date()
    let generator = TrafficGenerator.start(
      .init(
        frames: frames, interface: network.veth.peer, namespace: network.namespace,
        fullSpeed: true))
    Thread.sleep(forTimeInterval: liveDuration)
    if let failure = generator.stop() { throw .generator(failure) }
    let elapsed = Date().timeIntervalSince(start)
    // Frames still crossing the veth arrive shortly after the generator stops.
    var after = try counted()
    for _ in 0..<50 {
      usleep(20_000)
      let now = try counted()
      if now == after { break }
      after = now
    }
    return Double(after &- before) / elapsed / 1e6
  }
}

/// Why a kernel measurement failed.
public enum KernelBenchError: Error, Sendable, CustomStringConvertible {
  /// The object or program could not be read.
  case source(ProgramSourceError)
  /// The program did not load.
  case load(LoadError)
  /// A test run or map read failed.
  case kernel(SystemCallError)
  /// The veth pair or namespace could not be made.
  case plumbing(PlumbingError)
  /// Attaching for live traffic failed.
  case deployment(DeploymentError)
  /// The traffic generator failed.
  case generator(TrafficGenerator.Failure)
  /// With run statistics on, the kernel counted another number of runs
  /// than the test run asked for: its run-time sum is not of those runs.
  case miscounted(program: String, asked: UInt32, counted: UInt64)

  /// A message naming the step.
  public var description: String {
    switch self {
    case .source(let error): "\(error)"
    case .load(let error): "\(error)"
    case .kernel(let error): "\(error)"
    case .plumbing(let error): "\(error)"
    case .deployment(let error): "\(error)"
    case .generator(let error): "\(error)"
    case .miscounted(let program, let asked, let counted):
      "run statistics of program \"\(program)\" counted \(counted) runs of a test run of \(asked)"
    }
  }
}
