import Foundation
import Journal

/// Everything one audit found, and what it covered.
public struct AuditReport: Sendable, Codable {
    public var journal: String
    public var journalID: UUID?
    public var segments = 0
    public var frames = 0
    public var events: UInt64 = 0
    public var bytes: UInt64 = 0
    public var chainHash = ""
    public var merkleRoot = ""
    /// Checkpoints whose signature verified and that agree with the log.
    public var checkpointsVerified = 0
    public var checkpointsFound = 0
    /// The highest position a verified signature covers; events after it are not signed yet.
    public var signedThrough: UInt64?
    public var trustedCheckpointPosition: UInt64?
    /// Events replayed through the domain rules.
    public var eventsRuleChecked = 0
    /// Findings kept in `findings` (the first `maximumFindings`, in journal order).
    public var findings: [AuditFinding] = []
    /// Every finding counted by rule, including those beyond the kept ones.
    public var findingCounts: [String: Int] = [:]
    public var notes: [String] = []
    public var seconds = 0.0

    public init(journal: String) { self.journal = journal }

    public var findingTotal: Int { findingCounts.values.reduce(0, +) }
    public var isClean: Bool { findingTotal == 0 }
    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }

    public func json(pretty: Bool = true) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(JSONShape(self))
    }

    /// The `--json` document: the report plus the verdict, so scripts need not recompute it.
    private struct JSONShape: Encodable {
        var report: AuditReport
        init(_ r: AuditReport) { report = r }
        enum Keys: String, CodingKey { case clean, findingTotal, eventsPerSecond }
        func encode(to encoder: any Encoder) throws {
            try report.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(report.isClean, forKey: .clean)
            try c.encode(report.findingTotal, forKey: .findingTotal)
            try c.encode(report.eventsPerSecond.rounded(), forKey: .eventsPerSecond)
        }
    }
}

/// Collects findings, keeping the first `limit` and counting all of them, so a journal full of
/// breaches still produces a report of bounded size.
struct FindingSink {
    let limit: Int
    var kept: [AuditFinding] = []
    var counts: [String: Int] = [:]

    init(limit: Int) { self.limit = limit }

    mutating func add(_ f: AuditFinding) {
        counts[f.rule, default: 0] += 1
        if kept.count < limit { kept.append(f) }
    }

    mutating func merge(_ other: FindingSink) {
        for (rule, n) in other.counts { counts[rule, default: 0] += n }
        for f in other.kept where kept.count < limit { kept.append(f) }
    }
}
