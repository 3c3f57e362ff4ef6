import BPF
import Kernel
import Rewriter

/// A program of a compiled BPF object file, instrumented with verdict
/// counting and ready to attach: the object is read, the program linked,
/// the interface's counters map appended to the object's map table and the
/// ``Rewriter/ActionCountingPass`` applied.
public struct ProgramSource: Hashable, Sendable {
  /// The object file.
  public var objectPath: String
  /// The program's name in the object.
  public var programName: String

  /// Names a program of an object file.
  public init(objectPath: String, programName: String) {
    self.objectPath = objectPath
    self.programName = programName
  }

  /// Reads and links the program as compiled, without instrumentation.
  public func compiledSpec() throws(ProgramSourceError) -> ProgramSpec {
    let (object, program) = try read()
    return ProgramSpec(
      program: program, maps: object.maps, license: object.license ?? "GPL",
      btf: object.btf.flatMap { KernelBTF(btf: $0, program: program) })
  }

  private func read() throws(ProgramSourceError) -> (BPFObject, Program) {
    let (object, program) = try readAnySection()
    if Program.isBatchSection(program.sectionName) {
      throw .batchAsWritten(file: objectPath, program: programName)
    }
    guard Program.isXDPSection(program.sectionName) else {
      throw .notXDP(file: objectPath, program: programName, section: program.sectionName)
    }
    guard !BatchProgram.looksLikeBatchForm(program) else {
      throw .alreadyBatch(file: objectPath, program: programName)
    }
    return (object, program)
  }

  private func readAnySection() throws(ProgramSourceError) -> (BPFObject, Program) {
    do {
      let object = try BPFObject(contentsOf: objectPath)
      return (object, try object.program(named: programName))
    } catch {
      throw .object(error)
    }
  }

  /// The batch form the kernel `interface` describes runs
  /// (``BPF/KernelBatchInterface``, read from its BTF), loaded with
  /// `BPF_F_XDP_BATCH`: the program instrumented with the action-counting
  /// pass, then wrapped in that kernel's trampoline with `strategy`. A
  /// program written as a batch program (an `xdp.batch` section) is loaded as
  /// written: it walks its own records, and its verdicts are not counted.
  public func kernelBatchSpec(_ interface: KernelBatchInterface, strategy: BatchStrategy)
    throws(ProgramSourceError) -> ProgramSpec
  {
    let (object, program) = try readAnySection()
    if Program.isBatchSection(program.sectionName) {
      var spec = ProgramSpec(
        program: program, maps: object.maps, license: object.license ?? "GPL",
        btf: object.btf.flatMap { KernelBTF(btf: $0, program: program) })
      spec.loadFlags = KernelBatchInterface.loadFlag
      return spec
    }
    var spec = try instrumentedSpec()
    let batch: BatchProgram
    do {
      batch = try BatchTrampoline.kernel(interface, strategy: strategy).rewrite(spec.program)
    } catch {
      throw .batchRewrite(file: objectPath, program: programName, error)
    }
    spec.program = batch.program
    spec.btf = object.btf.flatMap { KernelBTF(btf: $0, program: batch.program) }
    spec.loadFlags = KernelBatchInterface.loadFlag
    return spec
  }

  /// What the batch rewrite makes of the program as compiled: its
  /// instruction counts before and after, and what the loop adds. The
  /// kernel need not be able to run the result.
  public func batchSummary(_ trampoline: BatchTrampoline) throws(ProgramSourceError)
    -> BatchSummary
  {
    let (_, program) = try read()
    do {
      return try trampoline.rewrite(program).summary
    } catch {
      throw .batchRewrite(file: objectPath, program: programName, error)
    }
  }

  /// The object's first program in an XDP section: what the console
  /// attaches when an object is chosen without a program name.
  public static func firstXDPProgram(in objectPath: String) throws(ProgramSourceError)
    -> ProgramSource
  {
    let object: BPFObject
    do {
      object = try BPFObject(contentsOf: objectPath)
    } catch {
      throw .object(error)
    }
    guard let entry = object.programEntries.first(where: \.isXDP) else {
      throw .noXDPProgram(file: objectPath, programs: object.programNames)
    }
    return ProgramSource(objectPath: objectPath, programName: entry.name)
  }

  /// The per-packet form `rewrite --form per-packet` writes
  /// (``instrumentedSpec()``), refused as the batch form is
  /// (``Rewriter/BatchTrampoline/rewrite(_:maps:)``) when the kernel's
  /// verifier refuses the program's use of its maps
  /// (``BPF/MapAccessRules``, naming the compiled program's instruction).
  public func perPacketForm() throws(ProgramSourceError) -> ProgramSpec {
    let spec = try instrumentedSpec()
    let (object, program) = try read()
    if let refusal = MapAccessRules.firstRefusal(in: program.instructions, maps: object.maps) {
      throw .mapAccess(file: objectPath, program: programName, refusal)
    }
    return spec
  }

  /// Reads, links and instruments the program with the action-counting
  /// pass: what the kernel runs for xdpbatch (attached, or as the
  /// software datapath's fallback).
  public func instrumentedSpec() throws(ProgramSourceError) -> ProgramSpec {
    let (object, program) = try read()
    let countersIndex = object.maps.count
    let instrumented: Program
    do {
      instrumented = try ActionCountingPass(countersMapIndex: Int32(countersIndex)).apply(
        to: program)
    } catch {
      throw .instrumentation(file: objectPath, program: programName, error)
    }
    return ProgramSpec(
      program: instrumented, maps: object.maps + [ActionCountingPass.countersMap],
      countersMapIndex: countersIndex, license: object.license ?? "GPL",
      btf: object.btf.flatMap { KernelBTF(btf: $0, program: instrumented) })
  }
}

/// Why a program of an object file cannot be prepared for attaching.
public enum ProgramSourceError: Error, Sendable, CustomStringConvertible {
  /// The object could not be read, or has no such program.
  case object(BPFObjectError)
  /// The program is not in an XDP section.
  case notXDP(file: String, program: String, section: String)
  /// The action-counting pass could not instrument the program.
  case instrumentation(file: String, program: String, RewriteError)
  /// The batch rewrite refused the program.
  case batchRewrite(file: String, program: String, RewriteError)
  /// The object has no program in an XDP section.
  case noXDPProgram(file: String, programs: [String])
  /// The program is already a batch form (written by `xdpbatch rewrite
  /// -o`): the kernel runs per-packet programs, and attach makes the batch
  /// form itself.
  case alreadyBatch(file: String, program: String)
  /// The program is written as a batch program (section `xdp.batch`): it
  /// has no per-packet form, and only a kernel that runs batch programs
  /// runs it.
  case batchAsWritten(file: String, program: String)
  /// The kernel's verifier refuses the program's use of its maps.
  case mapAccess(file: String, program: String, MapAccessRefusal)

  /// A message naming the file and program.
  public var description: String {
    switch self {
    case .object(let error):
      "\(error)"
    case .notXDP(let file, let program, let section):
      "\(file): program \"\(program)\" is in section \"\(section)\", not an XDP section (xdp, xdp/..., xdp.frags)"
    case .instrumentation(let file, let program, let error):
      "\(file): program \"\(program)\" cannot be instrumented to count its verdicts: \(error)"
    case .batchRewrite(let file, let program, let error):
      "\(file): program \"\(program)\" has no batch form: \(error)"
    case .alreadyBatch(let file, let program):
      "\(file): program \"\(program)\" is already a batch form (written by `xdpbatch rewrite -o`)"
    case .batchAsWritten(let file, let program):
      "\(file): program \"\(program)\" is a batch program as written (section xdp.batch): it has no per-packet form; attach it with --form batch where the kernel runs batch programs"
    case .mapAccess(let file, let program, let refusal):
      "\(file): program \(program): cannot rewrite: \(refusal)"
    case .noXDPProgram(let file, let programs):
      "\(file) has no program in an XDP section"
        + (programs.isEmpty ? "" : " (programs: \(programs.joined(separator: ", ")))")
    }
  }
}
