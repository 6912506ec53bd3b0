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
    /// Whether signatures were checked (a public key was given). Without one (`--unsigned`) no
    /// checkpoint counts as verified and nothing as signed: anyone who rewrites a log can write
    /// checkpoints that agree with it.
    public var signaturesChecked = true
    /// Checkpoints that agree with the log, their signatures checked or not.
    public var checkpointsMatching = 0
    /// The highest position a verified signature covers; events after it are not signed yet.
    public var signedThrough: UInt64?
    public var trustedCheckpointPosition: UInt64?
    /// Events replayed through the domain rules.
    public var eventsRuleChecked = 0
    /// Findings listed: the first `maximumFindings` found (journal damage, then checkpoints, then
    /// rules), plus the first of every rule beyond them, so no kind of finding goes unlisted;
    /// sorted by position.
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
/// breaches still produces a report of bounded size. The first finding of every rule is kept
/// too (with a limit above zero): thousands of one kind must not hide the one of another kind,
/// such as a rolled-back trusted checkpoint behind a journal full of rule breaches.
struct FindingSink {
    let limit: Int
    var kept: [AuditFinding] = []
    var counts: [String: Int] = [:]
    private var keptRules: Set<String> = []
    private var firstOfRule: [String: AuditFinding] = [:]

    init(limit: Int) { self.limit = limit }

    mutating func add(_ f: AuditFinding) {
        counts[f.rule, default: 0] += 1
        keep(f)
    }

    mutating func merge(_ other: FindingSink) {
        for (rule, n) in other.counts { counts[rule, default: 0] += n }
        for f in other.listed { keep(f) }
    }

    private mutating func keep(_ f: AuditFinding) {
        if kept.count < limit {
            kept.append(f)
            keptRules.insert(f.rule)
        } else if limit > 0, !keptRules.contains(f.rule), firstOfRule[f.rule] == nil {
            firstOfRule[f.rule] = f
        }
    }

    /// What the report lists: the kept findings and the first of every rule beyond them.
    var listed: [AuditFinding] { kept + firstOfRule.values.sorted { $0.rule < $1.rule } }
}
