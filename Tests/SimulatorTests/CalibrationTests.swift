import Foundation
import Testing
import Domain
import Simulator

/// The simulated history against the figures of docs/SIMULATOR.md, on a two-year run at scale 0.1.
@Suite struct CalibrationTests {
    let facts = SharedRuns.twoYears.facts
    let scale = 0.1

    /// Press release: 2.5 months for workers, 3.5 for students, 7 to 8 for family cases. Dossiers
    /// completed in the first nine months, so that slow ones had time to finish within the run.
    @Test(arguments: [(Category.worker, 2.5), (.student, 3.5), (.family, 7.5)])
    func delayFromCompleteToPermitHasTheTargetMedian(category: Category, targetMonths: Double) {
        let delays = facts.delaysInMonths(category, completedBefore: utc("2024-10-01T00:00:00Z"))
        #expect(delays.count > 100)
        let observed = median(delays)
        #expect(abs(observed - targetMonths) / targetMonths < 0.10, "\(category): median \(observed) months over \(delays.count) dossiers")
    }

    @Test func delaysSpreadRealistically() {
        let delays = facts.delaysInMonths(.worker, completedBefore: utc("2024-10-01T00:00:00Z")).sorted()
        let p10 = delays[delays.count / 10], p90 = delays[delays.count * 9 / 10]
        #expect(p10 > 1.2 && p10 < 2.2, "p10 \(p10)")
        #expect(p90 > 3.0 && p90 < 4.5, "p90 \(p90)")
    }

    @Test func fifteenThousandDossiersAYear() {
        let perYear = Double(SharedRuns.twoYears.summary.dossiers) / 2 / scale
        #expect(abs(perYear - 15_000) / 15_000 < 0.05, "\(perYear) dossiers a year")
    }

    /// Press release: 28,000 appointments granted from mid-March to the end of October, about
    /// 3,500 a month. Compared on the second year, once every kind of appointment is in its steady
    /// state (the first months of a run have no permits to hand over yet).
    @Test func appointmentsFromMidMarchToOctoberMatchThePressRelease() {
        let booked = Double(facts.bookings(from: utc("2025-03-15T00:00:00Z"), to: utc("2025-11-01T00:00:00Z"))) / scale
        #expect(abs(booked - 28_000) / 28_000 < 0.10, "\(booked) appointments booked")
    }

    @Test func aboutTwoPointEightAppointmentsPerDossier() {
        let booked = Double(facts.bookings(from: utc("2025-01-01T00:00:00Z"), to: utc("2026-01-01T00:00:00Z")))
        let dossiers = Double(facts.events.count { if case .dossierSubmitted(let d) = $0.event { d.occurredAt >= utc("2025-01-01T00:00:00Z") } else { false } })
        #expect(abs(booked / dossiers - 2.8) / 2.8 < 0.10, "\(booked / dossiers) appointments per dossier")
    }

    /// National first permits 2023: students 32 %, family 28 %, economic 17 %, other 23 %.
    @Test func categoriesFollowTheNationalMix() {
        let categories = Array(facts.categoryOfDossier.values)
        func share(_ category: Category) -> Double { Double(categories.count { $0 == category }) / Double(categories.count) }
        #expect(abs(share(.student) - 0.32) < 0.03)
        #expect(abs(share(.family) - 0.28) < 0.03)
        #expect(abs(share(.worker) - 0.17) < 0.03)
        #expect(abs(share(.visitor) + share(.humanitarian) + share(.other) - 0.23) < 0.03)
    }

    @Test func grenobleReceivesMostApplicantsAndTheSousPrefecturesTheRest() {
        var sites: [Site: Int] = [:]
        for entry in facts.events { if case .dossierSubmitted(let d) = entry.event { sites[d.site, default: 0] += 1 } }
        let total = Double(sites.values.reduce(0, +))
        let grenoble = Double(sites[.grenoble] ?? 0) / total
        #expect(grenoble > 0.65 && grenoble < 0.85, "Grenoble \(grenoble)")
        #expect((sites[.vienne] ?? 0) > (sites[.laTourDuPin] ?? 0))
        #expect((sites[.laTourDuPin] ?? 0) > 0)
    }

    @Test func theStudentSeasonPeaksFromSeptemberToNovember() {
        func studentBookings(_ from: String, _ to: String) -> Int {
            facts.bookings.count { $0.category == .student && $0.occurredAt >= utc(from) && $0.occurredAt < utc(to) }
        }
        let season = studentBookings("2025-09-01T00:00:00Z", "2025-12-01T00:00:00Z")
        let spring = studentBookings("2025-03-01T00:00:00Z", "2025-06-01T00:00:00Z")
        #expect(Double(season) > Double(spring) * 1.5, "students: \(season) bookings in the season, \(spring) in spring")
    }
}
