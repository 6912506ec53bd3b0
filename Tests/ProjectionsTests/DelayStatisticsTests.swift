import Domain
import Foundation
import Testing
@testable import Projections

@Suite("Delay statistics")
struct DelayStatisticsTests {
    @Test("percentiles interpolate linearly between closest ranks, as numpy and pandas do by default")
    func percentileMethod() {
        // h = (n − 1) · p; [1, 2, 3, 4]: median h = 1.5 → 2.5; p90 h = 2.7 → 3 + 0.7 × (4 − 3) = 3.7.
        #expect(Percentile.of(sorted: [1, 2, 3, 4], 0.5) == 2.5)
        #expect(abs(Percentile.of(sorted: [1, 2, 3, 4], 0.9) - 3.7) < 1e-12)
        // Odd count: the middle value. numpy.percentile([10, 20, 30, 40, 50], 90) == 46.
        #expect(Percentile.of(sorted: [10, 20, 30, 40, 50], 0.5) == 30)
        #expect(abs(Percentile.of(sorted: [10, 20, 30, 40, 50], 0.9) - 46) < 1e-12)
        #expect(Percentile.of(sorted: [7], 0.9) == 7)
        #expect(Percentile.of(sorted: [1, 100], 0) == 1)
        #expect(Percentile.of(sorted: [1, 100], 1) == 100)
    }

    @Test("complete → decision, complete → available and booking → appointment, per category, site and month")
    func delaysByHand() throws {
        let dir = TemporaryDirectory("delays")
        try DossierScenario().history.write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)

        // Decisions: the student 2024-01-25 → 03-01 = 36 days; the worker 01-11 → 02-10 = 30 days.
        let overall = set.delays(groupBy: .overall)
        let decision = try #require(overall.first { $0.measure == .completeToDecision })
        #expect(decision.count == 2)
        #expect(abs(decision.meanDays - 33) < 1e-9)
        #expect(abs(decision.medianDays - 33) < 1e-9)
        #expect(abs(decision.p90Days - 35.4) < 1e-9)
        // Available: 2024-01-25 → 04-25 = 91 days (2024 is a leap year).
        let available = try #require(overall.first { $0.measure == .completeToAvailable })
        #expect(available.count == 1 && abs(available.meanDays - 91) < 1e-9)

        let byCategory = set.delays(groupBy: .category).filter { $0.measure == .completeToDecision }
        #expect(byCategory.map { "\($0.category!.rawValue):\($0.medianDays)" } == ["student:36.0", "worker:30.0"])

        let detailed = set.delays(groupBy: .categorySiteMonth).filter { $0.measure == .completeToDecision }
        #expect(detailed.map { "\($0.category!.rawValue)/\($0.site!.rawValue)/\($0.month!)" } == ["student/grenoble/2024-01", "worker/vienne/2024-01"])
    }

    /// The demo's "median delay by month" once weighted the sites' medians by their counts:
    /// (10 × 3 + 50 × 1) / 4 = 20 days here, which no sample and no median is. The month's
    /// median is that of its pooled samples, 10, 10, 50, 100: 30 days.
    @Test("by category and month, the median is that of every site's samples together")
    func categoryMonthPoolsTheSites() throws {
        var stats = DelayStatistics()
        let completed = Millis.of(Sample.time("2024-03-04T10:00:00Z")), day: Int64 = 86_400_000
        for (site, days) in [(Site.grenoble, [10, 10, 100] as [Int64]), (.vienne, [50])] {
            for d in days { stats.record(.completeToAvailable, category: .worker, site: site, from: completed, to: completed + d * day) }
        }
        let perSite = stats.delays(groupBy: .categorySiteMonth)
        #expect(perSite.map(\.medianDays) == [10, 50])
        let rows = stats.delays(groupBy: .categoryMonth)
        try #require(rows.count == 1)
        let row = rows[0]
        #expect(row.grouping == .categoryMonth && row.category == .worker && row.site == nil && row.month == "2024-03")
        #expect(row.count == 4 && row.medianDays == 30 && row.meanDays == 42.5)
    }

    @Test("booking → appointment is measured from the booking to the slot's start")
    func bookingDelay() throws {
        let dir = TemporaryDirectory("booking-delay")
        try AbuseSignalsTests.botBurst().write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)
        let row = try #require(set.delays(groupBy: .overall).first { $0.measure == .bookingToAppointment })
        // Six bookings: slot n starts 7 days + n × 15 min after the release; booked at +1…+5 s and +600 s.
        let seconds: [Double] = [604_799, 605_698, 606_597, 607_496, 608_395, 608_700]
        let days = seconds.map { $0 / 86_400 }
        #expect(row.count == 6)
        #expect(abs(row.meanDays - days.reduce(0, +) / 6) < 1e-9)
        // Sorted: 604799, 605698, 606597, 607496, 608395, 608700 s; the median is the mean of the middle two.
        #expect(abs(row.medianDays - 607_046.5 / 86_400) < 1e-9)
    }
}
