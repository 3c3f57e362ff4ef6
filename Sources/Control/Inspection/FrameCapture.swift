import BPF
import CBPF
import CLinux
import Glibc
import Rewriter

/// A running capture: the program on an interface swapped atomically for
/// a variant that also copies frames and verdicts into a ring buffer
/// (``VerdictCapture``), with the same maps, and swapped back by ``stop()``.
///
/// This needs no tracing programs (this machine refuses fentry/fexit).
/// The variant is built from the program's object file: the one xdpbatch
/// attached (its record), or one the caller names for a program attached
/// by another tool. Its maps are the running program's own, matched by
/// name, so state and counters carry on.
public final class FrameCapture {
  /// What to capture.
  public struct Request: Sendable {
    /// The interface.
    public var interface: String
    /// Only frames with this verdict; `nil` for all.
    public var action: XDPAction?
    /// Bytes of each frame to keep.
    public var snapLength: Int
    /// The object file of the attached program when xdpbatch did not attach it.
    public var object: String?
    /// The program in ``object`` (default: its first XDP program).
    public var program: String?

    /// Describes a capture.
    public init(
      interface: String, action: XDPAction? = nil, snapLength: Int = 128, object: String? = nil,
      program: String? = nil
    ) {
      self.interface = interface
      self.action = action
      self.snapLength = snapLength
      self.object = object
      self.program = program
    }
  }

  /// Collects records handed over by libbpf's callback.
  final class Sink {
    var frames: [CapturedFrame] = []
    let clockOffset = CapturedFrame.clockOffset()
  }

  /// The interface.
  public let interface: String
  /// The id of the program that ran before (and runs again after) the capture.
  public let originalID: UInt32
  private let target: InterfaceProgram
  private let swap: ProgramSwap
  private let capturing: ProgramLoader.Loaded
  private let ring: OpaquePointer
  private let sink: Sink
  private var stopped = false

  private init(
    target: InterfaceProgram, swap: ProgramSwap, capturing: ProgramLoader.Loaded,
    ring: OpaquePointer, sink: Sink
  ) {
    interface = target.interface
    originalID = target.programID
    self.target = target
    self.swap = swap
    self.capturing = capturing
    self.ring = ring
    self.sink = sink
  }

  deinit {
    try? stop()
    ring_buffer__free(ring)
  }

  /// Builds the capture variant of the program on the interface and swaps
  /// it in. On failure nothing has changed.
  public static func start(_ request: Request) throws(InspectionError) -> FrameCapture {
    let target = try InterfaceProgram.find(interface: request.interface, followingDatapath: false)
    let source = try source(for: request, target: target)
    let plain: XDPAttachment.Request
    do {
      plain = try source.uninstrumentedRequest()
    } catch {
      throw .captureUnavailable(interface: request.interface, reason: error.description)
    }
    let countersIndex = plain.maps.count
    let ringIndex = countersIndex + 1
    let pass = ActionCountingPass(
      countersMapIndex: Int32(countersIndex),
      capture: VerdictCapture(
        ringBufferMapIndex: Int32(ringIndex), action: request.action,
        snapLength: Int32(request.snapLength)))
    let program: Program
    do {
      program = try pass.apply(to: plain.program)
    } catch {
      throw .captureUnavailable(
        interface: request.interface,
        reason: "program \"\(source.programName)\" cannot be instrumented: \(error)")
    }
    let maps = plain.maps + [ActionCountingPass.countersMap, VerdictCapture.ringBufferMap()]
    let running = try target.maps()
    var reusing: [Int: KernelMap] = [:]
    for (index, definition) in maps.enumerated() {
      let name = String(definition.name.prefix(Int(BPF_OBJ_NAME_LEN) - 1))
      if let match = running.first(where: {
        $0.summary.name == name && $0.summary.type == definition.type
          && $0.summary.keySize == definition.keySize
          && $0.summary.valueSize == definition.valueSize
      }) {
        reusing[index] = KernelMap(descriptor: match.descriptor, definition: definition)
      }
    }
    reusing[ringIndex] = nil
    let loaded: ProgramLoader.Loaded
    do {
      loaded = try ProgramLoader(maps: maps, reusing: reusing, license: plain.license).load(program)
    } catch {
      throw .captureUnavailable(interface: request.interface, reason: "\(error)")
    }
    guard let ringMap = loaded.maps[ringIndex] else {
      throw .captureUnavailable(
        interface: request.interface, reason: "the capture program does not use its ring buffer")
    }
    let sink = Sink()
    let callback: ring_buffer_sample_fn = { context, data, size in
      guard let context, let data else { return 0 }
      let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
      if let frame = CapturedFrame(
        record: UnsafeRawBufferPointer(start: data, count: size), clockOffset: sink.clockOffset)
      {
        sink.frames.append(frame)
      }
      return 0
    }
    guard
      let ring = ring_buffer__new(
        ringMap.descriptor.rawValue, callback, Unmanaged.passUnretained(sink).toOpaque(), nil)
    else {
      throw .kernel(SystemCallError("open the capture ring buffer", code: errno))
    }
    let swap: ProgramSwap
    do {
      swap = try ProgramSwap(target: target)
      try swap.replace(target.program, with: loaded.program)
    } catch {
      ring_buffer__free(ring)
      throw .kernel(error)
    }
    return FrameCapture(target: target, swap: swap, capturing: loaded, ring: ring, sink: sink)
  }

  /// The object and program to build the variant from.
  static func source(for request: Request, target: InterfaceProgram) throws(InspectionError)
    -> ProgramSource
  {
    if let object = request.object {
      if let program = request.program {
        return ProgramSource(objectPath: object, programName: program)
      }
      do {
        return try ProgramSource.firstXDPProgram(in: object)
      } catch {
        throw .captureUnavailable(interface: request.interface, reason: error.description)
      }
    }
    if let record = StateDirectory().record(interface: request.interface),
      (try? XDPAttachment.open(interface: request.interface)) != nil
    {
      return ProgramSource(objectPath: record.object, programName: record.program)
    }
    throw .captureUnavailable(
      interface: request.interface,
      reason:
        "program \"\(target.program.name)\" (id \(target.programID)) was not attached by xdpbatch; name its object file with --object FILE (and --program NAME)"
    )
  }

  /// Frames that arrived within `timeoutMilliseconds` (or fewer, as soon
  /// as some are there).
  public func poll(timeoutMilliseconds: Int32) -> [CapturedFrame] {
    _ = ring_buffer__poll(ring, timeoutMilliseconds)
    let frames = sink.frames
    sink.frames.removeAll()
    return frames
  }

  /// Swaps the original program back (atomically); safe to call twice.
  /// Records still in the ring buffer are dropped.
  public func stop() throws(InspectionError) {
    guard !stopped else { return }
    do {
      try swap.replace(capturing.program, with: target.program)
    } catch {
      throw .kernel(error)
    }
    stopped = true
  }
}

/// Replaces one XDP program on an interface by another in one step,
/// whichever way it is attached: through a BPF link (xdpbatch's, or
/// another loader's) with `bpf_link_update`, or through netlink with
/// `XDP_FLAGS_REPLACE`; both refuse if the expected program is not the
/// one attached.
struct ProgramSwap {
  let target: InterfaceProgram
  let link: XDPLink?

  init(target: InterfaceProgram) throws(SystemCallError) {
    self.target = target
    link = try XDPLink.links(onInterface: target.interfaceIndex).first {
      $0.info.programID == target.programID
    }?.link
  }

  func replace(_ current: LoadedProgram, with next: LoadedProgram) throws(SystemCallError) {
    if let link {
      try link.update(to: next, expecting: current)
      return
    }
    var options = bpf_xdp_attach_opts()
    options.sz = MemoryLayout<bpf_xdp_attach_opts>.size
    options.old_prog_fd = current.descriptor.rawValue
    try check("replace program \(target.programID) on \(target.interface)") {
      bpf_xdp_attach(
        Int32(bitPattern: target.interfaceIndex), next.descriptor.rawValue,
        target.modeFlags | UInt32(XDP_FLAGS_REPLACE), &options)
    }
  }
}
