import ArgumentParser
import Exporter
import Foundation
import Kernel

/// `xdpbatch exporter`: serves the counters of every interface running an
/// xdpbatch program at `/metrics`, for Prometheus.
struct ExporterCommand: ParsableCommand, LibraryMessageCommand {
  static let configuration = CommandConfiguration(
    commandName: "exporter",
    abstract: "Serve per-interface counters and run statistics at /metrics for Prometheus.",
    discussion: """
      Listens on \(ListenAddress.default) unless told otherwise (port \(ListenAddress.defaultPort) \
      is well outside the exporter range of Prometheus's default port allocations). Serves the Prometheus text format, or \
      OpenMetrics when the scraper's Accept header asks for it. Stops on SIGTERM or SIGINT.
      """)

  @Option(
    help: ArgumentHelp(
      "The address and port to listen on ([ADDR]:PORT for IPv6).", valueName: "ADDR:PORT"))
  var listen: String = ListenAddress.default.description

  @Option(
    help: ArgumentHelp(
      "Seconds between samples of the counters (a scrape also samples).", valueName: "SECONDS"))
  var interval: Double = 1

  @Flag(
    inversion: .prefixedNo,
    help:
      "Keep the kernel's run statistics on while serving (costs the program two clock reads a run)."
  )
  var runStatistics = true

  func validate() throws {
    do {
      _ = try ListenAddress(parsing: listen)
    } catch {
      throw ValidationError("--listen: \(error)")
    }
    if !(interval > 0) { throw ValidationError("--interval must be above 0") }
  }

  @OptionGroup var messages: LibraryMessageOptions

  func run() throws {
    // Unprivileged, every counter read would fail and /metrics would be
    // served empty with 200: refuse to start instead, with the reason.
    try Privileges.require(for: "exporter")
    let address = try ListenAddress(parsing: listen)
    let statistics = runStatistics ? try? RunStatistics.enable() : nil
    defer { _ = statistics }
    let server = MetricsServer(
      address: address, interval: interval,
      metrics: XDPMetrics(host: HostInfo.probe(version: Version.release)))
    try server.runBlocking { bound in
      FileHandle.standardOutput.write(
        Data("xdpbatch exporter: serving http://\(bound)/metrics\n".utf8))
    }
  }
}
