import Domain
import Foundation

/// Paris wall-clock time, as the prefecture's opening hours and releases are set, turned into the
/// UTC instants events carry. Summer time runs from the last Sunday of March to the last Sunday
/// of October, at 01:00 UTC (EU rule since 1996).
enum ParisTime {
    static let day: TimeInterval = 86_400

    /// Midnight UTC of the day holding `date`.
    static func dayStart(_ date: Date) -> Date {
        let seconds = date.timeIntervalSince1970
        return Date(timeIntervalSince1970: (seconds / day).rounded(.down) * day)
    }

    /// 1 = Sunday … 7 = Saturday, of the UTC day holding `date`.
    static func weekday(_ date: Date) -> Int {
        let days = Int((date.timeIntervalSince1970 / day).rounded(.down))
        // 1970-01-01 was a Thursday (5).
        return ((days + 4) % 7 + 7) % 7 + 1
    }

    /// (year, month 1-12, day 1-31) of the UTC day holding `date`.
    static func civil(_ date: Date) -> (year: Int, month: Int, day: Int) {
        UTCTime.civilFromDays(Int((date.timeIntervalSince1970 / day).rounded(.down)))
    }

    static func date(year: Int, month: Int, day d: Int) -> Date {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return Date(timeIntervalSince1970: Double(era * 146_097 + dayOfEra - 719_468) * day)
    }

    private static func lastSunday(year: Int, month: Int) -> Date {
        var candidate = date(year: year, month: month, day: 31)
        while weekday(candidate) != 1 { candidate -= day }
        return candidate
    }

    /// Hours Paris is ahead of UTC at `date`: 2 in summer, 1 otherwise.
    static func offsetHours(at date: Date) -> Int {
        let year = civil(date).year
        let summerStart = lastSunday(year: year, month: 3) + 3600
        let summerEnd = lastSunday(year: year, month: 10) + 3600
        return date >= summerStart && date < summerEnd ? 2 : 1
    }

    /// The UTC instant of `hour:minute` Paris time on the day that starts at `dayStart` (UTC midnight).
    static func instant(on dayStart: Date, hour: Int, minute: Int = 0) -> Date {
        let noon = dayStart + 12 * 3600
        return dayStart + TimeInterval((hour - offsetHours(at: noon)) * 3600 + minute * 60)
    }

    /// Monday to Friday.
    static func isWorkingDay(_ dayStart: Date) -> Bool { (2...6).contains(weekday(dayStart)) }

    /// 0-based month of `date`, for the monthly weights.
    static func monthIndex(_ date: Date) -> Int { civil(date).month - 1 }
}
