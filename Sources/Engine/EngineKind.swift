/// Which engine runs programs.
public enum EngineKind: String, CaseIterable, Sendable, Codable {
  /// Compiled to x86-64 machine code.
  case jit
  /// The interpreter's switch over prepared slots.
  case interpreter

  /// The JIT on x86-64, the interpreter elsewhere.
  public static var platformDefault: EngineKind {
    #if arch(x86_64)
      .jit
    #else
      .interpreter
    #endif
  }
}
