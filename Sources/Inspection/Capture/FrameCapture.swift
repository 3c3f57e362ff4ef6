import BPF
import Foundation
import Kernel
import Rewriter

/// A running capture: the program on an interface swapped atomically for
/// a variant that also copies frames and verdicts into a ring buffer
/// (``VerdictCapture``), with the same maps, and swapped back by ``stop()``.
///
/// This needs no tracing programs (this machine refuses fentry/fexit).
/// The variant is built from the program as compiled (its object file's);
/// its maps are the running program's own, matched by name, type and
/// sizes, so state and counters carry on.
public final class FrameCapture {
  /// What to capture.
  public struct Request: Sendable {
    /// The interface.
    public var interface: String
    /// Only frames with this verdict; `nil` for all.
    public var action: XDPAction?
    /// Bytes of each frame to keep.
    public var snapLength: Int

    /// Describes a capture.
    public init(interface: String, action: XDPAction? = nil, snapLength: Int = 128) {
      self.interface = interface
      self.action = action
      self.snapLength = snapLength
    }
  }

  /// Collects the frames the ring buffer hands over.
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
  private let ring: RingBufferReader
  private let sink: Sink
  private let state: StateDirectory
  private var stopped = false

  private init(
    target: InterfaceProgram, swap: ProgramSwap, capturing: ProgramLoader.Loaded,
    ring: RingBufferReader, sink: Sink, state: StateDirectory
  ) {
    self.state = state
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
  }

  /// Builds the capture variant of `compiled` (the program attached to
  /// `target` as compiled: its object's program, maps and license) and
  /// swaps it in for the attached program. On failure nothing has changed.
  public static func start(
    _ request: Request, on target: InterfaceProgram, compiled: ProgramSpec,
    state: StateDirectory = StateDirectory()
  ) throws(InspectionError) -> FrameCapture {
    let countersIndex = compiled.maps.count
    let ringIndex = countersIndex + 1
    let pass = ActionCountingPass(
      countersMapIndex: Int32(countersIndex),
      capture: VerdictCapture(
        ringBufferMapIndex: Int32(ringIndex), action: request.action,
        snapLength: Int32(request.snapLength)))
    let program: Program
    do {
      program = try pass.apply(to: compiled.program)
    } catch {
      throw .captureUnavailable(
        interface: request.interface,
        reason: "program \"\(compiled.program.name)\" cannot be instrumented: \(error)")
    }
    var variant = ProgramSpec(
      program: program,
      maps: compiled.maps + [ActionCountingPass.countersMap, VerdictCapture.ringBufferMap()],
      license: compiled.license
    ).adoptingMaps(of: try target.maps())
    variant.reusing[ringIndex] = nil
    let loaded: ProgramLoader.Loaded
    do {
      loaded = try variant.load()
    } catch {
      throw .captureUnavailable(interface: request.interface, reason: "\(error)")
    }
    guard let ringMap = loaded.maps[ringIndex] else {
      throw .captureUnavailable(
        interface: request.interface, reason: "the capture program does not use its ring buffer")
    }
    let sink = Sink()
    do throws(SystemCallError) {
      let ring = try RingBufferReader(map: ringMap) { record in
        if let frame = CapturedFrame(record: record, clockOffset: sink.clockOffset) {
          sink.frames.append(frame)
        }
      }
      let swap = try ProgramSwap(
        interface: target.interface, interfaceIndex: target.interfaceIndex,
        programID: target.programID, mode: target.mode)
      // Before the swap: a capture killed from here on leaves what the
      // next command needs to put the original back (``CaptureMarker``).
      try CaptureMarker.write(
        interface: target.interface, original: target.program, originalID: target.programID,
        variantID: try loaded.program.info().id, state: state)
      do throws(SystemCallError) {
        try swap.replace(target.program, with: loaded.program)
      } catch {
        CaptureMarker.remove(interface: target.interface, state: state)
        throw error
      }
      return FrameCapture(
        target: target, swap: swap, capturing: loaded, ring: ring, sink: sink, state: state)
    } catch {
      throw .kernel(error)
    }
  }

  /// Frames that arrived within `timeoutMilliseconds` (or fewer, as soon
  /// as some are there).
  public func poll(timeoutMilliseconds: Int32) -> [CapturedFrame] {
    ring.poll(timeoutMilliseconds: timeoutMilliseconds)
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
    CaptureMarker.remove(interface: interface, state: state)
    stopped = true
  }
}
