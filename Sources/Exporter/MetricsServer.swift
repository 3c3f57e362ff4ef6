import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The exporter's HTTP side (Hummingbird): `GET /metrics` renders
/// ``XDPMetrics`` in the format the scraper asks for; between scrapes the
/// counters are sampled every ``interval`` seconds, so that a program swap
/// between two scrapes is attributed to the right form.
public struct MetricsServer: Sendable {
  /// Where to listen.
  public var address: ListenAddress
  /// Seconds between background samples.
  public var interval: Double
  /// What to serve.
  public let metrics: XDPMetrics

  /// A server for `metrics` on `address`.
  public init(address: ListenAddress, interval: Double, metrics: XDPMetrics) {
    self.address = address
    self.interval = interval
    self.metrics = metrics
  }

  /// Serves until SIGTERM or SIGINT (then returns). `onListening` gets the
  /// address actually bound (with the port the kernel chose for port 0).
  public func run(onListening: @escaping @Sendable (ListenAddress) -> Void)
    async throws(ExporterError)
  {
    let metrics = self.metrics
    let router = Router()
    router.get("metrics") { request, _ -> Response in
      let format = ExpositionFormat.negotiate(accept: request.headers[.accept])
      return Response(
        status: .ok, headers: [.contentType: format.contentType],
        body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition(format))))
    }
    router.get("/") { _, _ -> String in
      "xdpbatch exporter: metrics at /metrics\n"
    }
    var logger = Logger(label: "xdpbatch-exporter")
    logger.logLevel = .critical
    let listening = ListeningFlag()
    let requested = address
    let application = Application(
      router: router,
      configuration: ApplicationConfiguration(
        address: .hostname(address.host, port: Int(address.port)), serverName: nil),
      onServerRunning: { channel in
        listening.set()
        let port = channel.localAddress?.port.map { UInt16($0) } ?? requested.port
        onListening(ListenAddress(host: requested.host, port: port))
      },
      logger: logger)
    let sampler = Task.detached { [interval] in
      while !Task.isCancelled {
        metrics.refresh()
        try? await Task.sleep(for: .seconds(interval))
      }
    }
    defer { sampler.cancel() }
    do {
      try await application.runService()
    } catch {
      if listening.isSet { throw .stopped(reason: "\(error)") }
      throw .cannotListen(address, reason: ExporterError.reason(error))
    }
    if !listening.isSet {
      throw .cannotListen(address, reason: "the server stopped before it listened")
    }
  }
}

/// Whether the server got as far as listening (set from Hummingbird's
/// callback, read after it returns).
private final class ListeningFlag: Sendable {
  private let value = Mutex(false)

  /// Records that the server listens.
  func set() { value.withLock { $0 = true } }

  /// Whether it did.
  var isSet: Bool { value.withLock { $0 } }
}

extension MetricsServer {
  /// Serves until SIGTERM or SIGINT, blocking the calling thread (the
  /// command line's `exporter`); throws why it could not serve.
  public func runBlocking(onListening: @escaping @Sendable (ListenAddress) -> Void)
    throws(ExporterError)
  {
    let outcome = ServerOutcome()
    let finished = DispatchSemaphore(value: 0)
    Task.detached {
      do throws(ExporterError) {
        try await run(onListening: onListening)
      } catch {
        outcome.record(error)
      }
      finished.signal()
    }
    finished.wait()
    if let error = outcome.error { throw error }
  }
}

/// How the server's task ended, handed back to the blocked thread.
private final class ServerOutcome: @unchecked Sendable {
  private let lock = NSLock()
  private var failure: ExporterError?

  /// Records why the server stopped.
  func record(_ error: ExporterError) {
    lock.lock()
    failure = error
    lock.unlock()
  }

  /// The recorded failure, if any.
  var error: ExporterError? {
    lock.lock()
    defer { lock.unlock() }
    return failure
  }
}
