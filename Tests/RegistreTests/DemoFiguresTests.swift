import Domain
import Foundation
import Testing
@testable import Projections
@testable import registre

private func utc(_ text: String) -> Date { UTCTime.parse(text)! }

@Suite struct DemoFiguresTests {
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
