import ArgumentParser
import Engine
import Foundation

/// `--engine jit|interpreter`, shared by `run`, `check`, `exec` and `bench`.
struct EngineOption: ParsableArguments {
  @Option(
    help: """
      The engine that runs programs: jit (x86-64 machine code; the default on x86-64) or \
      interpreter. A program the JIT cannot compile runs in the interpreter, with the reason \
      on stderr.
      """)
  var engine: EngineKind = .platformDefault

  /// Says on stderr why a program ran in the interpreter instead of the JIT.
  func reportFallback(_ machine: Machine) {
    if let reason = machine.engineFallback {
      writeToStandardError("xdpbatch: \(reason)")
    }
  }
}

extension EngineKind: ExpressibleByArgument {}
