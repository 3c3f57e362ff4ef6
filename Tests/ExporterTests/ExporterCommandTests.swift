import Foundation
import Glibc
import TestSupport
import Testing

/// The built binary's `exporter` on bad input: a port in use and an
/// address that is not this host's are clear errors (exit 1), a malformed
/// `--listen` a usage error (exit 2); on a free port it serves.
@Suite(
  .serialized, .enabled(if: BuiltXDPBatch.url != nil, Comment(rawValue: BuiltXDPBatch.missing)))
struct ExporterCommandTests {
  @Test func aPortInUseIsAClearErrorAndExitOne() throws {
    let listener = try LoopbackListener()
    defer { listener.close() }
    let result = try BuiltXDPBatch.run(["exporter", "--listen", "127.0.0.1:\(listener.port)"])
    #expect(result.status == 1)
    #expect(
      result.errors.contains("cannot listen on 127.0.0.1:\(listener.port)"), "\(result.errors)")
    #expect(result.errors.contains("Address already in use"), "\(result.errors)")
    #expect(result.errors.split(separator: "\n").count == 1, "one line: \(result.errors)")
  }

  @Test func anAddressOfNoInterfaceHereIsAClearErrorAndExitOne() throws {
    // TEST-NET-1 (RFC 5737): assigned to no interface, nothing is sent.
    let result = try BuiltXDPBatch.run(["exporter", "--listen", "192.0.2.1:18064"])
    #expect(result.status == 1)
    #expect(result.errors.contains("cannot listen on 192.0.2.1:18064"), "\(result.errors)")
    #expect(result.errors.contains("Cannot assign requested address"), "\(result.errors)")
  }

  @Test(arguments: ["18064", "127.0.0.1:http", "127.0.0.1:70000", "::1:80"])
  func aMalformedListenAddressIsAUsageError(_ listen: String) throws {
    let result = try BuiltXDPBatch.run(["exporter", "--listen", listen])
    #expect(result.status == 2)
    #expect(result.errors.contains("--listen"), "\(result.errors)")
  }

  @Test func aZeroIntervalIsAUsageError() throws {
    let result = try BuiltXDPBatch.run(["exporter", "--interval", "0"])
    #expect(result.status == 2)
  }

  @Test(.enabled(if: curlPath != nil, "curl is not installed"))
  func onAFreePortItServesTextAndOpenMetricsAndStopsOnSIGTERM() throws {
    let binary = try #require(BuiltXDPBatch.url).path
    let exporter = try BackgroundProcess(binary, ["exporter", "--listen", "127.0.0.1:0"])
    defer { exporter.stop() }
    let url = try #require(
      exporter.waitForLine(seconds: 20) { line -> String? in
        guard let range = line.range(of: "http://") else { return nil }
        return String(line[range.lowerBound...])
      }, "no 'serving' line: \(exporter.printed)")
    let text = try httpGet(url)
    #expect(text.status == 200)
    #expect(text.contentType.hasPrefix("text/plain; version=0.0.4"))
    #expect(text.body.contains("# TYPE xdpbatch_info gauge"))
    #expect(text.body.contains("xdpbatch_info{version="))

    let open = try httpGet(url, accept: "application/openmetrics-text;version=1.0.0")
    #expect(open.status == 200)
    #expect(open.contentType.hasPrefix("application/openmetrics-text; version=1.0.0"))
    #expect(open.body.hasSuffix("# EOF\n"))

    let missing = try httpGet(url.replacingOccurrences(of: "/metrics", with: "/nothing"))
    #expect(missing.status == 404)

    kill(exporter.process.processIdentifier, SIGTERM)
    exporter.process.waitUntilExit()
    #expect(exporter.process.terminationStatus == 0)
  }
}
