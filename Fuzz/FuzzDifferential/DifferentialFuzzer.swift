import BPF
import Differential
import DifferentialKernel
import Engine
import FuzzSupport
import Glibc

/// The three-oracle differential fuzzer (`make fuzz`): each input is a
/// ``FuzzInput``. Generated cases run in the interpreter and the JIT, per
/// packet and in their batch form (which must match the per-packet form
/// for verifiable cases), and verifiable cases also in the kernel with
/// `BPF_PROG_TEST_RUN` when the process can load programs (root;
/// `XDPBATCH_FUZZ_KERNEL=0` turns it off); raw instructions (the seeds)
/// run as conformance programs and as XDP programs in both engines. Any
/// disagreement traps with both sides and the case's bytes, and libFuzzer
/// keeps the input (`differential-crash-*`).
///
/// ASan does not see the programs' own memory (one arena only the engine
/// knows; the JIT's code is not instrumented): the engines must catch
/// those accesses themselves, which is what comparing them checks.
///
/// `XDPBATCH_FUZZ_PACKETS=N` runs each generated case on at least N
/// packets (``GeneratedCase/extendingPackets(to:)``; the generator draws 1
/// to 4): a campaign's executions then cost less than its preparations.
///
/// `FuzzDifferential --seeds DIR... OUT` writes seed inputs instead: the
/// raw programs of every bpf_conformance `.data` file and every sample
/// section named, and seeded choice streams of both flavors.
/// `FuzzDifferential --conformance DIR` runs bpf_conformance's vectors in
/// both engines and reports those whose result differs from the expected.
@_cdecl("FuzzDifferential_main")
func fuzzDifferentialMain(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
  let arguments = (0..<Int(argc)).compactMap { argv?[$0].map { String(cString: $0) } }
  if arguments.count >= 3, arguments[1] == "--seeds" {
    return SeedWriter.write(
      inputs: Array(arguments[2..<(arguments.count - 1)]), to: arguments.last!)
  }
  if arguments.count == 3, arguments[1] == "--conformance" {
    return ConformanceReport.run(directory: arguments[2])
  }
  MemoryBudget.shared.limit = 1 << 30
  let kernel: KernelOracle? =
    KernelOracle.unavailableReason == nil
      && getenv("XDPBATCH_FUZZ_KERNEL").map({ String(cString: $0) }) != "0"
    ? KernelOracle() : nil
  print(
    "differential: oracles interpreter, JIT, batch form"
      + (kernel == nil
        ? " (kernel off: \(KernelOracle.unavailableReason ?? "XDPBATCH_FUZZ_KERNEL=0"))"
        : ", kernel"))
  atexit { FuzzTally.print() }
  let engines = EngineOracle()
  let packets = getenv("XDPBATCH_FUZZ_PACKETS").flatMap { Int(String(cString: $0)) } ?? 0
  if packets > 0 { print("differential: each generated case runs on at least \(packets) packets") }
  return runLibFuzzer(argc: argc, argv: argv) { bytes in
    do {
      switch FuzzInput(bytes) {
      case .generated(let drawn):
        let generated = drawn.extendingPackets(to: packets)
        FuzzTally.record(try engines.compare(generated), flavor: generated.flavor)
        if let kernel, generated.isKernelComparable {
          FuzzTally.record(try kernel.compare(generated))
        }
      case .instructions(let instructions, let memory):
        FuzzTally.record(
          try InstructionsOracle().compare(instructions, memory: memory), flavor: nil)
      }
    } catch {
      FuzzTally.print()
      fatalError("\(error)\ninput: \(Disagreement.hex(bytes))")
    }
    FuzzTally.printEveryMinute()
  }
}

/// What the run compared: printed when libFuzzer exits, and once a
/// minute while it runs (libFuzzer ends on a slow unit or a signal without
/// running `atexit`, and a campaign's count would be lost).
enum FuzzTally {
  nonisolated(unsafe) static var inputs = 0
  nonisolated(unsafe) static var lastPrint = monotonicSeconds()
  nonisolated(unsafe) static var cases: [String: Int] = [:]
  nonisolated(unsafe) static var engineExecutions = 0
  nonisolated(unsafe) static var batchForms = 0
  nonisolated(unsafe) static var kernelCases = 0
  nonisolated(unsafe) static var kernelRefused = 0
  nonisolated(unsafe) static var kernelExecutions = 0

  static func record(_ tally: EngineOracle.Tally, flavor: CaseGenerator.Flavor?) {
    cases[flavor?.rawValue ?? "instructions", default: 0] += 1
    engineExecutions += tally.executions
    batchForms += tally.batchForms
  }

  static func record(_ verdict: KernelOracle.Verdict) {
    kernelCases += 1
    switch verdict {
    case .agreed(let executions): kernelExecutions += executions
    case .notComparable: kernelRefused += 1
    }
  }

  static func printEveryMinute() {
    inputs += 1
    guard inputs % 64 == 0 else { return }
    let now = monotonicSeconds()
    guard now - lastPrint >= 60 else { return }
    lastPrint = now
    print()
  }

  static func monotonicSeconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return time.tv_sec
  }

  static func print() {
    Swift.print(
      "differential: inputs \(inputs); cases \(cases.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
        + "executions compared in both engines \(engineExecutions) (batch forms \(batchForms)); "
        + "kernel: \(kernelCases) cases, \(kernelRefused) refused by the verifier (not comparable), "
        + "\(kernelExecutions) executions compared; disagreements 0")
    fflush(nil)
  }
}
