import Foundation
import Glibc
import Kernel

/// What a running capture leaves behind so that the next command can put
/// the original program back if the capture is killed before it swaps
/// back (`kill -9`, OOM): the original program pinned at
/// `/sys/fs/bpf/xdpbatch/IFACE/capture-original` (nothing else holds it
/// once the variant runs in its place: without the pin the kernel would
/// free it with the killed process's descriptors), and a marker,
/// `/run/xdpbatch/IFACE.capture.json`, naming the capture's process and
/// both programs. xdp-loader and bpftool keep their state the same way:
/// pins on bpffs, the rest in a file under `/run`.
///
/// ``FrameCapture`` writes both before its swap and removes them after
/// swapping back; ``FrameCapture/restoreLeftover(interface:state:)`` is
/// what the next `capture`, `stats`, `attach`, `swap` or `detach` runs.
struct CaptureMarker: Codable, Equatable {
  /// The capturing process, and its start time (a pid can be reused).
  var pid: Int32
  var startTicks: UInt64
  /// The program the capture replaced, which runs again after it.
  var originalID: UInt32
  /// The capture variant.
  var variantID: UInt32

  /// The marker's file for `interface`.
  static func path(interface: String, state: StateDirectory) -> String {
    state.file("\(interface).capture.json")
  }

  /// Where the original program is pinned while `interface` is captured.
  static func originalPin(interface: String) -> String {
    PinDirectory(interface: interface).path + "/capture-original"
  }

  static func read(interface: String, state: StateDirectory) -> CaptureMarker? {
    guard let data = FileManager.default.contents(atPath: path(interface: interface, state: state))
    else { return nil }
    return try? JSONDecoder().decode(CaptureMarker.self, from: data)
  }

  /// Whether the capture that wrote the marker still runs.
  var captureIsRunning: Bool {
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    return Processes.startTicks(of: pid) == startTicks
  }

  /// Pins `original` and writes the marker; on failure neither is left.
  static func write(
    interface: String, original: LoadedProgram, originalID: UInt32, variantID: UInt32,
    state: StateDirectory
  ) throws(SystemCallError) {
    let pins = PinDirectory(interface: interface)
    try pins.ensureMounted()
    let created = try pins.create()
    let pin = originalPin(interface: interface)
    unlink(pin)
    do {
      try original.pin(at: pin)
      let pid = getpid()
      let marker = CaptureMarker(
        pid: pid, startTicks: Processes.startTicks(of: pid) ?? 0, originalID: originalID,
        variantID: variantID)
      try state.create()
      try state.write(
        (try? JSONEncoder().encode(marker)) ?? Data(), to: path(interface: interface, state: state))
    } catch {
      unlink(pin)
      if !created.isEmpty { pins.removeDirectories() }
      throw error
    }
  }

  /// Removes the marker and the pin (the directory too when it is left empty).
  static func remove(interface: String, state: StateDirectory) {
    unlink(path(interface: interface, state: state))
    unlink(originalPin(interface: interface))
    rmdir(PinDirectory(interface: interface).path)
  }
}

extension FrameCapture {
  /// Puts back the program a killed capture replaced on `interface`:
  /// when a capture marker is there, its process is gone and the
  /// capture's variant is still attached, the pinned original replaces
  /// it (atomically, as the capture would have); then the marker and the
  /// pin go. Returns what was done, for the operator; `nil` when there
  /// was nothing to do (no marker, or the capture still runs).
  @discardableResult
  public static func restoreLeftover(interface: String, state: StateDirectory = StateDirectory())
    -> String?
  {
    guard let marker = CaptureMarker.read(interface: interface, state: state),
      !marker.captureIsRunning
    else { return nil }
    // The variant is gone (detached, replaced): only the marker is left.
    guard let attached = try? InterfaceProgram.attached(to: interface),
      attached.programID == marker.variantID
    else {
      CaptureMarker.remove(interface: interface, state: state)
      return nil
    }
    do {
      let original = try LoadedProgram.open(
        pinnedAt: CaptureMarker.originalPin(interface: interface))
      let swap = try ProgramSwap(
        interface: interface, interfaceIndex: attached.interfaceIndex,
        programID: attached.programID, mode: attached.mode)
      try swap.replace(attached.program, with: original)
    } catch {
      // The marker and the pin stay: the next command tries again.
      return
        "a capture killed before it ended (pid \(marker.pid)) left its variant (program id \(marker.variantID)) on \(interface), and the original (id \(marker.originalID)) could not be put back: \(error)"
    }
    CaptureMarker.remove(interface: interface, state: state)
    return
      "a capture killed before it ended (pid \(marker.pid)) left its variant (program id \(marker.variantID)) on \(interface): program id \(marker.originalID) is back"
  }
}
