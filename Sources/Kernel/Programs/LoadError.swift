import BPF

/// Why a program did not load.
public enum LoadError: Error, Equatable, Sendable {
  /// The verifier refused the program. `instruction` is the index the log
  /// names (the instruction being checked when it gave up), `reason` the
  /// whole log (the description shows its last lines; the console's
  /// message log shows all of it), `source` the source line of that
  /// instruction (from the object's `.BTF.ext` line info) when known.
  case rejected(
    program: String, instruction: Int?, reason: String, errno: Errno, source: SourceLine? = nil)
  /// The kernel refused before verifying (no privilege, bad attributes).
  case kernel(program: String, SystemCallError)
  /// A map the program needs could not be created or found.
  case map(program: String, SystemCallError)
  /// An `ld_imm64` names a map index the object does not have.
  case unknownMap(program: String, instruction: Int, mapIndex: Int, mapCount: Int)
}

extension LoadError {
  /// The verifier's whole log when it rejected the program, else `nil`.
  public var verifierLog: String? {
    guard case .rejected(_, _, let reason, _, _) = self else { return nil }
    return reason
  }
}

extension LoadError: CustomStringConvertible {
  /// A message naming the program, the instruction and the reason.
  public var description: String {
    switch self {
    case .rejected(let program, let instruction, let reason, _, let source):
      let place = instruction.map { " at instruction \($0)" } ?? ""
      let line = source.map { "\n  source: \($0.description)" } ?? ""
      return
        "the verifier rejected program \"\(program)\"\(place):\(line)\n\(VerifierLog(reason).lastLines(8))"
    case .kernel(let program, let error):
      return "program \"\(program)\": \(error)"
    case .map(let program, let error):
      return "program \"\(program)\": \(error)"
    case .unknownMap(let program, let instruction, let index, let count):
      return
        "program \"\(program)\", instruction \(instruction): map index \(index) is out of range (the object has \(count) maps)"
    }
  }
}
