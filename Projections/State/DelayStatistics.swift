import Domain
import Foundation

/// The delays the prefecture is judged on, measured in business time.
public enum DelayMeasure: String, Sendable, Codable, CaseIterable {
    /// First completion of the dossier → permit available at a site (`PermitAvailable`).
    case completeToAvailable = "complete-to-available"
    /// First completion → decision recorded (granted or refused).
    case completeToDecision = "complete-to-decision"
    /// Booking → the appointment's start, for every booking made (cancelled ones included).
    case bookingToAppointment = "booking-to-appointment"
}

/// How delay rows are grouped.
public enum DelayGrouping: String, Sendable, Codable, CaseIterable {
    /// One row per measure, all categories together.
    case overall
    /// One row per measure and category.
    case category
    /// One row per measure, category and month, every site together: its median is that of all
    /// the month's samples (the sites' medians, even weighted by their counts, do not make one).
    case categoryMonth = "category-month"
    /// One row per measure, category, site and month; the month is that of completion (of the
    /// booking, for `booking-to-appointment`).
    case categorySiteMonth = "category-site-month"
}

/// Samples of every delay, kept exactly (one number per dossier or booking), so that medians and
/// percentiles are exact rather than estimated from a histogram.
public struct DelayStatistics: Sendable, Codable, Equatable {
    struct Key: FastKey {
        var measure: DelayMeasure
        var category: Domain.Category
        var site: Site
        var month: Int32

        var fastHash: UInt64 {
            mix64(UInt64(UInt32(bitPattern: month)) << 24 | UInt64(ordinal(measure)) << 16 | UInt64(ordinal(category)) << 8 | UInt64(ordinal(site)))
        }
    }

    /// Durations in milliseconds.
    var samples = FastMap<Key, [Int64]>()
    /// The last day whose month was computed, and that month: samples come in time order.
    var lastDay: Int32 = .min
    var lastMonth: Int32 = 0
    /// Derived: `samples`' ordinals by measure, category and site, for the last month of each.
    var ordinals = GroupOrdinals()

    enum CodingKeys: String, CodingKey { case samples, lastDay, lastMonth }

    public static func == (a: DelayStatistics, b: DelayStatistics) -> Bool {
        a.samples == b.samples && a.lastDay == b.lastDay && a.lastMonth == b.lastMonth
    }

    public init() {}

    /// The month of a sample is that of its start: completion, or booking.
    mutating func record(_ measure: DelayMeasure, category: Domain.Category, site: Site, from start: Int64, to end: Int64) {
        let day = CivilCalendar.day(ofMillis: start)
        if day != lastDay {
            lastDay = day
            lastMonth = CivilCalendar.monthIndex(ofDay: day)
        }
        let group = GroupOrdinals.group(ordinal(measure), ordinal(category), ordinal(site))
        let tag = UInt32(bitPattern: lastMonth)
        let o: Int32
        if let known = ordinals.ordinal(group, tag: tag) {
            o = known
        } else {
            o = samples.ordinal(inserting: Key(measure: measure, category: category, site: site, month: lastMonth), default: [])
            ordinals.remember(group, tag: tag, ordinal: o)
        }
        samples.update(at: o) { $0.append(end - start) }
    }

    public func delays(groupBy grouping: DelayGrouping) -> [DelayRow] {
        var groups: [DelayRow.Group: [Int64]] = [:]
        for (key, values) in samples.entries {
            let group: DelayRow.Group = switch grouping {
            case .overall: .init(measure: key.measure)
            case .category: .init(measure: key.measure, category: key.category)
            case .categoryMonth: .init(measure: key.measure, category: key.category, month: key.month)
            case .categorySiteMonth: .init(measure: key.measure, category: key.category, site: key.site, month: key.month)
            }
            groups[group, default: []].append(contentsOf: values)
        }
        return groups.map { DelayRow(group: $0.key, grouping: grouping, milliseconds: $0.value) }.sorted { $0.sortKey < $1.sortKey }
    }
}

extension DelayStatistics {
    /// What is wrong with the samples and the cached month, or `nil`: every group holds samples,
    /// each a difference of two business times, in a month of business days, and the cached
    /// month is that of the cached day (samples of that day are filed under it unchecked).
    func inconsistency() -> String? {
        if let problem = samples.inconsistency() { return "the delay samples: \(problem)" }
        for (key, values) in samples.entries {
            guard BusinessTime.months.contains(key.month), !values.isEmpty,
                  values.allSatisfy({ abs($0) <= BusinessTime.span }) else {
                return "the delay samples of \(key.measure.rawValue) in \(key.category.rawValue) at \(key.site.rawValue), month \(key.month), are not durations between business times"
            }
        }
        guard (lastDay == .min && lastMonth == 0)
            || (BusinessTime.days.contains(lastDay) && lastMonth == CivilCalendar.monthIndex(ofDay: lastDay)) else {
            return "the delays remember day \(lastDay) as month \(lastMonth)"
        }
        return nil
    }

    /// How many samples of `measure` are held.
    func sampleCount(of measure: DelayMeasure) -> Int {
        samples.entries.reduce(0) { $0 + ($1.0.measure == measure ? $1.1.count : 0) }
    }
}

/// Count, mean, median and 90th percentile of one group of delays, in days.
public struct DelayRow: Sendable, Codable, Equatable {
    struct Group: Hashable {
        var measure: DelayMeasure
        var category: Domain.Category? = nil
        var site: Site? = nil
        var month: Int32? = nil
    }

    public var measure: DelayMeasure
    public var grouping: DelayGrouping
    /// `nil` when the row covers every category.
    public var category: Domain.Category?
    public var site: Site?
    /// `YYYY-MM`.
    public var month: String?
    public var count: Int
    public var meanDays: Double
    public var medianDays: Double
    public var p90Days: Double

    init(group: Group, grouping: DelayGrouping, milliseconds: [Int64]) {
        measure = group.measure
        self.grouping = grouping
        category = group.category
        site = group.site
        month = group.month.map(CivilCalendar.monthString)
        let days = milliseconds.map { Double($0) / 86_400_000 }.sorted()
        count = days.count
        meanDays = days.reduce(0, +) / Double(max(days.count, 1))
        medianDays = Percentile.of(sorted: days, 0.5)
        p90Days = Percentile.of(sorted: days, 0.9)
    }

    var sortKey: String {
        [measure.rawValue, category?.rawValue ?? "", site?.rawValue ?? "", month ?? ""].joined(separator: "\u{1}")
    }
}

/// Percentiles by linear interpolation between closest ranks: for sorted values x₀ … xₙ₋₁ and
/// 0 ≤ p ≤ 1, h = (n − 1)·p and the result is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋).
///
/// This is Hyndman and Fan's type 7, the default of numpy's `percentile`, pandas' `quantile`,
/// R's `quantile` and DuckDB's `quantile_cont`, so an analyst recomputing a figure from the
/// exported samples gets the same number. The median (p = 0.5) is the usual median: the middle
/// value, or the mean of the two middle values.
public enum Percentile {
    public static func of(sorted values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let h = Double(values.count - 1) * min(max(p, 0), 1)
        let low = Int(h.rounded(.down))
        let high = min(low + 1, values.count - 1)
        return values[low] + (h - Double(low)) * (values[high] - values[low])
    }
}
