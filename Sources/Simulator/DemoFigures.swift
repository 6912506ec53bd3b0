import Domain
import Foundation
import Projections

/// The dossiers the demo's delay figures describe: those first completed within a window that
/// ends long enough before the end of the history for their slow files to finish too.
///
/// A delay is known only once the permit is available, so the delays of every dossier completed
/// in a history that ends now leave out the long ones still running (and months near the end
/// keep only their fast files). The demo simulates two years and reports the dossiers completed
/// in the first, each followed for at least a year: a family file takes 7.5 months at the median
/// and about 11 at the 90th percentile.
public struct DelayCohort: Equatable, Sendable {
    /// First completion at or after this time…
    public var from: Date
    /// …and before this one.
    public var to: Date
    /// The end of the history (exclusive).
    public var followedUntil: Date

    /// The first `months` of a history from `start` to `end`.
    public static func first(_ months: Int, from start: Date, historyEnd end: Date) -> DelayCohort {
        DelayCohort(from: start, to: UTCTime.adding(months: months, to: start), followedUntil: end)
    }

    public var firstMonth: String { DemoFigures.month(from) }
    public var lastMonth: String { DemoFigures.month(to.addingTimeInterval(-1)) }
    public var label: String {
        "dossiers completed \(firstMonth) to \(lastMonth), followed until \(UTCTime.string(followedUntil.addingTimeInterval(-1)).prefix(10))"
    }

    public func contains(_ date: Date) -> Bool { date >= from && date < to }
}

/// The figures `registre demo` prints from its history and projections. Here, below the command
/// line tool (which nothing imports), so that they are tested as any module is.
public enum DemoFigures {
    /// Places booked in one month.
    public struct MonthCount: Equatable, Sendable {
        public var month: String
        public var count: Int
        public init(month: String, count: Int) { self.month = month; self.count = count }
    }

    /// `count` dossiers of the cohort whose permit became available; `stillOpen` others of it
    /// were still open without one when the history ended.
    public struct DelayRow: Equatable, Sendable {
        public var category: String
        public var count: Int
        public var medianDays: Double
        public var p90Days: Double
        public var stillOpen: Int
        public var pressRelease: String
    }

    /// `YYYY-MM`, UTC, as the projections' months.
    public static func month(_ date: Date) -> String { String(UTCTime.string(date).prefix(7)) }

    static let pressRelease: [String: String] = [
        "worker": "2.5 months (professional immigration)",
        "student": "3.5 months",
        "family": "7 to 8 months (private and family life)",
    ]

    /// Complete → available per category over the cohort, and the median per category and month
    /// of completion. Each median is that of the group's own samples (none is a mean of medians);
    /// dossiers of the cohort still open without a permit at the end are counted beside them.
    public static func delays(_ dossiers: [DossierSummary], cohort: DelayCohort)
        -> (rows: [DelayRow], perMonth: [(category: String, months: [(month: String, medianDays: Double)])]) {
        var samples: [Domain.Category: [Double]] = [:]
        var monthly: [Domain.Category: [String: [Double]]] = [:]
        var open: [Domain.Category: Int] = [:]
        for d in dossiers {
            guard let completed = d.completedAt, cohort.contains(completed) else { continue }
            if let available = d.availableAt {
                let days = available.timeIntervalSince(completed) / 86_400
                samples[d.category, default: []].append(days)
                monthly[d.category, default: [:]][month(completed), default: []].append(days)
            } else if d.status.isOpen {
                open[d.category, default: 0] += 1
            }
        }
        let rows = Set(samples.keys).union(open.keys).map { category in
            let days = (samples[category] ?? []).sorted()
            return DelayRow(
                category: category.rawValue, count: days.count, medianDays: Percentile.of(sorted: days, 0.5), p90Days: Percentile.of(sorted: days, 0.9),
                stillOpen: open[category] ?? 0,
                pressRelease: pressRelease[category.rawValue].map { "\($0) ≈ \(Self.days($0)) days" } ?? "–")
        }.sorted { ($0.medianDays, $0.category) < ($1.medianDays, $1.category) }
        let perMonth = monthly.sorted { $0.key.rawValue < $1.key.rawValue }.map { category, months in
            (category: category.rawValue, months: months.sorted { $0.key < $1.key }.map { (month: $0.key, medianDays: Percentile.of(sorted: $0.value.sorted(), 0.5)) })
        }
        return (rows, perMonth)
    }

    static func days(_ months: String) -> String {
        let numbers = months.split(whereSeparator: { !$0.isNumber && $0 != "." }).compactMap { Double($0) }
        guard let first = numbers.first else { return "?" }
        return numbers.count > 1 && months.contains(" to ") ? "\(Int(first * 30.4))–\(Int(numbers[1] * 30.4))" : "\(Int(first * 30.4))"
    }

    /// Places booked per month of the appointment, within the simulated months only: the live
    /// storm's release is dated now, months or years after the simulated history, and has its
    /// own section of the report.
    public static func appointmentsPerMonth(_ days: [SlotDay], from start: Date, to end: Date) -> [MonthCount] {
        let first = month(start), last = month(end.addingTimeInterval(-1))
        var months: [String: Int] = [:]
        for day in days {
            let month = String(day.day.prefix(7))
            guard month >= first, month <= last else { continue }
            months[month, default: 0] += day.placesBooked
        }
        return months.sorted { $0.key < $1.key }.map { .init(month: $0.key, count: $0.value) }
    }

    /// The line that fails the demo when the simulation asked the domain for decisions it
    /// refused (a simulator bug: the history then lacks what those decisions would have written),
    /// as `registre simulate` fails; `nil` when there were none.
    public static func refusalFailure(refused: Int, first: String?) -> String? {
        guard refused > 0 else { return nil }
        return "the simulation made \(refused) decisions the domain refused (a simulator bug, nothing was written for them); first: \(first ?? "?")"
    }
}
