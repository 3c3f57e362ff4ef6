import Foundation
import TestSupport

/// A Prometheus server for one test: its configuration and storage in a
/// temporary directory, on a loopback port, scraping `targets` every
/// second and evaluating `ruleFiles` every second. ``stop()`` ends it and
/// removes its files.
final class PrometheusServer {
  /// Debian's `prometheus` package (`make deps` installs it).
  static let binary: String? = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  /// promtool, from the same package.
  static let promtool: String? = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  let directory: URL
  let port: UInt16
  private let process: BackgroundProcess

  /// Writes the configuration and starts the server.
  init(job: String, targets: [String], ruleFiles: [String]) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "xdpbatch-prometheus-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let configuration = """
      global:
        scrape_interval: 1s
        scrape_timeout: 1s
        evaluation_interval: 1s
      rule_files:
      \(ruleFiles.map { "  - '\($0)'" }.joined(separator: "\n"))
      scrape_configs:
        - job_name: \(job)
          static_configs:
            - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]
      """
    let file = directory.appendingPathComponent("prometheus.yml")
    try configuration.write(to: file, atomically: true, encoding: .utf8)
    port = try LoopbackListener.freePort()
    do {
      process = try BackgroundProcess(
        Self.binary ?? "/usr/bin/prometheus",
        [
          "--config.file=\(file.path)",
          "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
          "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ])
    } catch {
      try? FileManager.default.removeItem(at: directory)
      throw error
    }
  }

  /// `http://127.0.0.1:PORT`.
  var base: String { "http://127.0.0.1:\(port)" }

  /// What the server printed (warnings and errors).
  var log: String { process.printed }

  /// Waits until the server answers `/-/ready`.
  func waitUntilReady(seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if (try? httpGet(base + "/-/ready"))?.status == 200 { return true }
      if !process.process.isRunning { return false }
      Thread.sleep(forTimeInterval: 0.2)
    }
    return false
  }

  /// One instant query, evaluated now or at `time` (seconds since 1970):
  /// each result's labels and value.
  func query(_ promQL: String, at time: Double? = nil) throws -> [(
    labels: [String: String], value: Double
  )] {
    let encoded = promQL.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? promQL
    let at = time.map { "&time=" + String(format: "%.3f", $0) } ?? ""
    let response = try httpGet(base + "/api/v1/query?query=" + encoded + at)
    guard response.status == 200,
      let document = try JSONSerialization.jsonObject(with: Data(response.body.utf8))
        as? [String: Any],
      let data = document["data"] as? [String: Any],
      let results = data["result"] as? [[String: Any]]
    else { throw QueryFailed(query: promQL, response: response.body) }
    return results.compactMap { result in
      guard let labels = result["metric"] as? [String: String],
        let pair = result["value"] as? [Any], pair.count == 2,
        let text = pair[1] as? String, let value = Double(text)
      else { return nil }
      return (labels, value)
    }
  }

  /// Stops the server and removes its configuration and storage.
  func stop() {
    process.stop()
    try? FileManager.default.removeItem(at: directory)
  }

  struct QueryFailed: Error, CustomStringConvertible {
    var query: String
    var response: String
    var description: String { "query \(query) failed: \(response)" }
  }
}

/// Runs promtool with `arguments`, `input` on its standard input.
func promtool(_ arguments: [String], input: String) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: PrometheusServer.promtool ?? "/usr/bin/promtool")
  process.arguments = arguments
  let stdin = Pipe()
  let output = Pipe()
  process.standardInput = stdin
  process.standardOutput = output
  process.standardError = output
  try process.run()
  stdin.fileHandleForWriting.write(Data(input.utf8))
  try stdin.fileHandleForWriting.close()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
