import CoreMetrics
import Foundation
import Journal
import Prometheus

/// The server's metrics, kept in a registry of its own (no global bootstrap, so tests and several
/// servers in one process do not share counters) and rendered in Prometheus text by `/metrics`.
public final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let lock = NSLock()
    nonisolated(unsafe) private var counters: [String: CoreMetrics.Counter] = [:]
    /// Request counters by route and status, looked up without building a key string: one
    /// lookup per request.
    nonisolated(unsafe) private var requestCounters: [RequestKey: CoreMetrics.Counter] = [:]

    private struct RequestKey: Hashable {
        var route: String
        var status: Int
    }

    let appends: CoreMetrics.Counter
    let appendedEvents: CoreMetrics.Counter
    let idempotentRetries: CoreMetrics.Counter
    let versionConflicts: CoreMetrics.Counter
    let appendLatency: CoreMetrics.Timer
    let commitWriteAndSync: CoreMetrics.Timer
    let commitAppends: CoreMetrics.Recorder
    let commitEvents: CoreMetrics.Recorder
    let subscribers: CoreMetrics.Meter
    let journalPosition: CoreMetrics.Gauge
    let journalBytes: CoreMetrics.Gauge
    let journalSegments: CoreMetrics.Gauge
    let connections: CoreMetrics.Gauge

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let latencyBuckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                          .milliseconds(4), .milliseconds(8), .milliseconds(16), .milliseconds(32), .milliseconds(64),
                                          .milliseconds(128), .milliseconds(256), .seconds(1)]
        factory.durationHistogramBuckets["registre_append_duration_seconds"] = latencyBuckets
        factory.durationHistogramBuckets["registre_commit_write_sync_duration_seconds"] = latencyBuckets
        let sizes: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        factory.valueHistogramBuckets["registre_commit_appends"] = sizes
        factory.valueHistogramBuckets["registre_commit_events"] = sizes
        self.factory = factory
        appends = CoreMetrics.Counter(label: "registre_appends_total", factory: factory)
        appendedEvents = CoreMetrics.Counter(label: "registre_appended_events_total", factory: factory)
        idempotentRetries = CoreMetrics.Counter(label: "registre_idempotent_retries_total", factory: factory)
        versionConflicts = CoreMetrics.Counter(label: "registre_version_conflicts_total", factory: factory)
        appendLatency = CoreMetrics.Timer(label: "registre_append_duration_seconds", factory: factory)
        commitWriteAndSync = CoreMetrics.Timer(label: "registre_commit_write_sync_duration_seconds", factory: factory)
        commitAppends = CoreMetrics.Recorder(label: "registre_commit_appends", aggregate: true, factory: factory)
        commitEvents = CoreMetrics.Recorder(label: "registre_commit_events", aggregate: true, factory: factory)
        subscribers = CoreMetrics.Meter(label: "registre_subscribers", factory: factory)
        journalPosition = CoreMetrics.Gauge(label: "registre_journal_position", factory: factory)
        journalBytes = CoreMetrics.Gauge(label: "registre_journal_bytes", factory: factory)
        journalSegments = CoreMetrics.Gauge(label: "registre_journal_segments", factory: factory)
        connections = CoreMetrics.Gauge(label: "registre_connections", factory: factory)
    }

    /// A counter with dimensions, made once and reused.
    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return lock.withLock {
            if let c = counters[key] { return c }
            let c = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = c
            return c
        }
    }

    func countRequest(route: String, status: Int) {
        requestCounter(route: route, status: status).increment()
    }

    /// The counter of requests to `route` answered with `status`. A connection keeps the last
    /// one it used (`RequestCounterCache`): its requests mostly repeat the same route and status,
    /// and then cost no lock and no lookup here.
    func requestCounter(route: String, status: Int) -> CoreMetrics.Counter {
        let key = RequestKey(route: route, status: status)
        if let known = lock.withLock({ requestCounters[key] }) { return known }
        let made = counter("registre_requests_total", [("route", route), ("status", String(status))])
        lock.withLock { requestCounters[key] = made }
        return made
    }

    func countRejection(rule: String) {
        counter("registre_rejections_total", [("rule", rule)]).increment()
    }

    func countDenial(route: String) {
        counter("registre_access_denied_total", [("route", route)]).increment()
    }

    func countSubscriberDisconnect(reason: String) {
        counter("registre_subscriber_disconnects_total", [("reason", reason)]).increment()
    }

    func countEvidence(events: Int) {
        counter("registre_rejected_attempt_evidence_events_total", []).increment(by: Int64(events))
    }

    /// The hook handed to the journal: one call per durable frame, on the writer thread.
    public var commitObserver: @Sendable (CommitStatistics) -> Void {
        { [commitAppends, commitEvents, commitWriteAndSync] stats in
            commitAppends.record(stats.appends)
            commitEvents.record(stats.events)
            commitWriteAndSync.recordNanoseconds(Int64(stats.writeAndSync.components.seconds) * 1_000_000_000
                                                 + stats.writeAndSync.components.attoseconds / 1_000_000_000)
        }
    }

    /// Samples the journal's size and position, then renders everything.
    func render(journal: Journal) -> [UInt8] {
        journalPosition.record(Int64(journal.endPosition))
        journalSegments.record(Int64(journal.segmentCount))
        journalBytes.record(Int64(Self.directorySize(journal.directory)))
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    private static func directorySize(_ path: String) -> UInt64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: UInt64 = 0
        while let name = walker.nextObject() as? String {
            if let size = (try? FileManager.default.attributesOfItem(atPath: path + "/" + name))?[.size] as? NSNumber,
               (try? FileManager.default.attributesOfItem(atPath: path + "/" + name))?[.type] as? FileAttributeType == .typeRegular {
                total += size.uint64Value
            }
        }
        return total
    }
}

/// One connection's last request counter, so that a run of requests with the same route and
/// status counts each without going through the shared table.
struct RequestCounterCache {
    private var last: (route: String, status: Int, counter: CoreMetrics.Counter)?

    mutating func count(route: String, status: Int, in metrics: ServerMetrics) {
        if let last, last.status == status, last.route == route { return last.counter.increment() }
        let counter = metrics.requestCounter(route: route, status: status)
        last = (route, status, counter)
        counter.increment()
    }
}
