import Domain
import Foundation
import Testing
@testable import Projections
@testable import Simulator



private func dossier(_ category: Domain.Category, site: Site = .grenoble, status: DossierStatus, completed: String?, availableAfterDays days: Double? = nil) -> DossierSummary {
    let completedAt = completed.map(utc)
    return DossierSummary(
        dossierId: UUID(), category: category, kind: .first, channel: .online, site: site, status: status,
        submittedAt: utc("2023-11-01T09:00:00Z"), completedAt: completedAt, decidedAt: nil, decision: nil,
        availableAt: days.flatMap { d in completedAt.map { $0.addingTimeInterval(d * 86_400) } }, endedAt: nil,
        implicitRejectionDue: nil, implicitRejectionRecorded: false, provisionalPermits: 0, steps: 3,
        lastEventAt: utc("2025-12-01T09:00:00Z"), lastPosition: 0)
}

@Suite struct DemoFiguresTests {
    let cohort = DelayCohort.first(12, from: utc("2024-01-01T00:00:00Z"), historyEnd: utc("2026-01-01T00:00:00Z"))

    @Test func theCohortIsTheFirstYearFollowedToTheEndOfTheHistory() {
        #expect(cohort.firstMonth == "2024-01" && cohort.lastMonth == "2024-12")
        #expect(cohort.label == "dossiers completed 2024-01 to 2024-12, followed until 2025-12-31")
        #expect(cohort.contains(utc("2024-01-01T00:00:00Z")) && cohort.contains(utc("2024-12-31T23:59:59Z")))
        #expect(!cohort.contains(utc("2025-01-01T00:00:00Z")) && !cohort.contains(utc("2023-12-31T23:59:59Z")))
    }

    /// A dossier completed late in the history with a permit already is a fast one: keeping it
    /// (and leaving out the slow ones of its month, still running) is what pulled the demo's
    /// family median down. Only the cohort counts; its open files are counted, not dropped silently.
    @Test func delaysAreThoseOfTheCohortOnlyWithItsOpenFilesCounted() throws {
        let dossiers = [
            dossier(.family, status: .handedOver, completed: "2024-03-01T10:00:00Z", availableAfterDays: 200),
            dossier(.family, site: .vienne, status: .available, completed: "2024-03-10T10:00:00Z", availableAfterDays: 240),
            dossier(.family, status: .handedOver, completed: "2024-12-20T10:00:00Z", availableAfterDays: 100),
            dossier(.family, status: .underReview, completed: "2024-06-01T10:00:00Z"),
            dossier(.family, status: .refused, completed: "2024-05-01T10:00:00Z"),
            dossier(.family, status: .handedOver, completed: "2025-02-01T10:00:00Z", availableAfterDays: 30),
            dossier(.family, status: .underReview, completed: "2025-06-01T10:00:00Z"),
            dossier(.family, status: .incomplete, completed: nil),
            dossier(.student, status: .handedOver, completed: "2024-04-01T10:00:00Z", availableAfterDays: 100),
            dossier(.student, status: .handedOver, completed: "2025-11-01T10:00:00Z", availableAfterDays: 20),
        ]
        let (rows, perMonth) = DemoFigures.delays(dossiers, cohort: cohort)
        #expect(rows.map(\.category) == ["student", "family"], "fastest median first")
        let family = try #require(rows.first { $0.category == "family" })
        #expect(family.count == 3 && family.stillOpen == 1)
        // [100, 200, 240]: median 200; p90 h = 1.8 → 200 + 0.8 × 40 = 232.
        #expect(abs(family.medianDays - 200) < 1e-6 && abs(family.p90Days - 232) < 1e-6, "\(family)")
        #expect(family.pressRelease == "7 to 8 months (private and family life) ≈ 212–243 days")
        let student = try #require(rows.first { $0.category == "student" })
        #expect(student.count == 1 && abs(student.medianDays - 100) < 1e-6 && student.stillOpen == 0)

        // Per month of completion, within the cohort: March pools both sites' samples, 220.
        let familyMonths = try #require(perMonth.first { $0.category == "family" }).months
        #expect(familyMonths.map(\.month) == ["2024-03", "2024-12"])
        #expect(familyMonths.map(\.medianDays).map { ($0 * 1e6).rounded() / 1e6 } == [220, 100])
        #expect(perMonth.first { $0.category == "student" }?.months.map(\.month) == ["2024-04"])
    }

    /// The live storm's release is dated now: its slots would add a bar far after the simulated
    /// months, and another month on the next run.
    @Test func appointmentsPerMonthKeepOnlyTheSimulatedMonths() {
        func day(_ d: String, _ booked: Int) -> SlotDay {
            var row = SlotDay(site: .grenoble, motif: .filing, category: .family, day: d)
            row.placesBooked = booked
            return row
        }
        let days = [day("2023-12-31", 1), day("2024-01-02", 5), day("2024-01-20", 7), day("2025-12-30", 3),
                    day("2026-01-05", 4), day("2026-11-30", 120)]
        let months = DemoFigures.appointmentsPerMonth(days, from: utc("2024-01-01T00:00:00Z"), to: utc("2026-01-01T00:00:00Z"))
        #expect(months.map(\.month) == ["2024-01", "2025-12"])
        #expect(months.map(\.count) == [12, 3])
    }

    @Test func refusedDecisionsFailTheDemoWithTheFirstOne() throws {
        #expect(DemoFigures.refusalFailure(refused: 0, first: nil) == nil)
        let failure = try #require(DemoFigures.refusalFailure(refused: 3, first: "2024-05-02T09:00:00.000Z: slot.capacityExceeded"))
        #expect(failure.contains("3 decisions the domain refused") && failure.contains("first: 2024-05-02T09:00:00.000Z: slot.capacityExceeded"), "\(failure)")
    }
}
