import Foundation
import Glibc
import Kernel

/// The demo's traffic generator: a process of its own (`xdpbatch demo
/// generate`, started by `demo up`) that sends the ``TrafficMix`` from the
/// peer until it is told to stop, and writes its pid and the frames it
/// has sent to files in the state directory, where `demo status` reads them.
extension Demo {
  /// The generator's pid, if the pid file names a live generator process.
  public func generatorPID() -> pid_t? {
    guard
      let text = try? String(contentsOfFile: generatorPIDPath, encoding: .utf8),
      let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
    else { return nil }
    // Only a process that is still our generator: a recycled pid is not.
    guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
      String(decoding: command, as: UTF8.self).contains("generate")
    else { return nil }
    return pid
  }

  func startGenerator(_ command: [String]) throws(DemoError) {
    guard let executable = command.first else { throw .generator("no generator command") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = Array(command.dropFirst())
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw .generator("cannot start \(executable): \(error.localizedDescription)")
    }
    // The generator writes its own pid file once it sends; wait for it.
    let deadline = Date().addingTimeInterval(5)
    while generatorPID() == nil && process.isRunning && Date() < deadline { usleep(20_000) }
    guard generatorPID() != nil else {
      if process.isRunning { Processes.signal(process.processIdentifier, SIGTERM) }
      throw .generator(
        "the generator process did not start (try `\(command.joined(separator: " "))`)")
    }
  }

  /// Asks the generator to stop (SIGTERM), then insists (SIGKILL).
  func stopGenerator(_ pid: pid_t) {
    Processes.signal(pid, SIGTERM)
    let deadline = Date().addingTimeInterval(3)
    while Processes.exists(pid) && Date() < deadline {
      usleep(20_000)
      // Reap it if it is our child.
      Processes.reap(pid)
    }
    if Processes.exists(pid) { Processes.signal(pid, SIGKILL) }
  }

  /// Runs the generator in this process until SIGTERM, SIGINT or SIGHUP:
  /// `rate` frames a second, the count written four times a second. The
  /// pid file goes when it stops; a failure to send is thrown.
  public func runGenerator(rate: Double) throws(TrafficGenerator.Failure) {
    setsid()
    let signals = SignalSet.block([SIGTERM, SIGINT, SIGHUP])
    let generator = TrafficGenerator.start(
      .init(
        frames: TrafficMix.classifier().frames, interface: veth.peer, namespace: namespace,
        framesPerRun: UInt32(min(max(rate / 50, 64), 16384)), framesPerSecond: rate))
    writeWhole(String(getpid()), to: generatorPIDPath)
    defer { unlink(generatorPIDPath) }
    while generator.isRunning {
      writeWhole(String(generator.framesSent), to: generatorCountPath)
      if signals.wait(timeout: 0.25) != nil { break }
    }
    let failure = generator.stop()
    writeWhole(String(generator.framesSent), to: generatorCountPath)
    if let failure { throw failure }
  }

  /// Writes `text` to a file of the state directory whole, through a
  /// temporary file the next `demo up` or `down` removes if this process
  /// is killed while writing (``Kernel/StateDirectory/write(_:to:)``); a
  /// failed write leaves the previous contents, read by `demo status`.
  private func writeWhole(_ text: String, to file: String) {
    try? state.write(Data(text.utf8), to: file)
  }
}
