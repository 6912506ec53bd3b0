import Domain
import Foundation
import Projections

enum DemoFigures {
    /// `YYYY-MM`, UTC, as the projections' months.
    static func month(_ date: Date) -> String { String(UTCTime.string(date).prefix(7)) }

    /// Places booked per month of the appointment, within the simulated months only: the live
    /// storm's release is dated now, months or years after the simulated history, and has its
    /// own section of the report.
    static func appointmentsPerMonth(_ days: [SlotDay], from start: Date, to end: Date) -> [DemoReport.MonthCount] {
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
    static func refusalFailure(refused: Int, first: String?) -> String? {
        guard refused > 0 else { return nil }
        return "the simulation made \(refused) decisions the domain refused (a simulator bug, nothing was written for them); first: \(first ?? "?")"
    }
}
