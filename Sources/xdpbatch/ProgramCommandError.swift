/// A failure of `rewrite` or `check` whose message already names the
/// object, the program and, where there is one, the instruction and why.
struct ProgramCommandError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
