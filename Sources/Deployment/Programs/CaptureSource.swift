import Inspection
import Kernel

extension FrameCapture {
  /// Starts the capture the operator asks for on `request.interface`: the
  /// variant is built from `object` (and its `program`, default its first
  /// XDP program) for a program another tool attached, else from the
  /// object of xdpbatch's record there. On failure nothing has changed.
  public static func start(
    _ request: Request, object: String?, program: String?, state: StateDirectory = StateDirectory()
  ) throws(InspectionError) -> FrameCapture {
    let target = try InterfaceProgram.attached(to: request.interface)
    let source = try source(of: target, object: object, program: program, state: state)
    let compiled: ProgramSpec
    do {
      compiled = try source.compiledSpec()
    } catch {
      throw .captureUnavailable(interface: request.interface, reason: error.description)
    }
    return try start(request, on: target, compiled: compiled, state: state)
  }

  /// The object and program to build the variant of `target` from.
  static func source(
    of target: InterfaceProgram, object: String?, program: String?, state: StateDirectory
  ) throws(InspectionError) -> ProgramSource {
    if let object {
      if let program {
        return ProgramSource(objectPath: object, programName: program)
      }
      do {
        return try ProgramSource.firstXDPProgram(in: object)
      } catch {
        throw .captureUnavailable(interface: target.interface, reason: error.description)
      }
    }
    if let record = state.record(interface: target.interface),
      (try? XDPAttachment.open(interface: target.interface)) != nil
    {
      return ProgramSource(objectPath: record.object, programName: record.program)
    }
    throw .unknownObject(
      interface: target.interface, program: target.program.name, programID: target.programID)
  }
}
