import Foundation

/// ISO-8601 UTC timestamps (`2024-09-03T09:00:00Z`, fractional seconds allowed), parsed and
/// written by hand.
///
/// `ISO8601DateFormatter` is too slow for the audit's replay rate and accepts offsets that the
/// journal refuses; business times are kept to the millisecond.
public enum UTCTime {
    /// Parses the strict form; `nil` for anything else, including offsets other than `Z`.
    public static func parse(_ text: some StringProtocol) -> Date? {
        let utf8 = Array(text.utf8)
        return utf8.withUnsafeBufferPointer { parse($0) }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Date? {
        guard b.count >= 20, b[b.count - 1] == UInt8(ascii: "Z") else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for i in start..<(start + count) {
                let d = b[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                value = value * 10 + Int(d)
            }
            return value
        }
        guard b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
              let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60
        else { return nil }
        var fraction = 0.0
        if b.count > 20 {
            // ".d…dZ": at least one digit after the dot, at most nine.
            guard b[19] == UInt8(ascii: "."), b.count >= 22, b.count <= 30, let digitsValue = digits(20, b.count - 21) else { return nil }
            fraction = Double(digitsValue) / pow(10, Double(b.count - 21))
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        let milliseconds = Int((fraction * 1000).rounded())
        return Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000)
    }

    /// The same time on the millisecond grid the journal writes, so that an event built in memory
    /// equals itself after a trip through its JSON. Every event's initialiser applies it.
    public static func normalized(_ date: Date) -> Date {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let milliseconds = ((totalMilliseconds % 1000) + 1000) % 1000
        let seconds = (totalMilliseconds - milliseconds) / 1000
        return Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000)
    }

    /// Writes `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` only when the time has milliseconds.
    static func write(_ date: Date, into out: inout [UInt8]) {
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let milliseconds = ((totalMilliseconds % 1000) + 1000) % 1000
        let seconds = (totalMilliseconds - milliseconds) / 1000
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        let days = (seconds - secondOfDay) / 86_400
        let (year, month, day) = civilFromDays(days)
        /// At least `width` digits; more when the value needs them, with a sign when negative
        /// (a year outside 0000...9999 comes from arithmetic on imported times, such as a cut-off
        /// a day before a slot of 0000-01-01, and is written as ISO 8601's expanded years are).
        func put(_ value: Int, _ width: Int) {
            if value < 0 { out.append(UInt8(ascii: "-")) }
            let v = value.magnitude
            var divisor: UInt = 1
            var digits = 1
            while digits < width || v / divisor >= 10 {
                divisor *= 10
                digits += 1
            }
            var rest = v
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        put(year, 4); out.append(UInt8(ascii: "-"))
        put(month, 2); out.append(UInt8(ascii: "-"))
        put(day, 2); out.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, 2); out.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, 2)
        if milliseconds != 0 {
            out.append(UInt8(ascii: "."))
            put(milliseconds, 3)
        }
        out.append(UInt8(ascii: "Z"))
    }

    public static func string(_ date: Date) -> String {
        var out = [UInt8]()
        write(date, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Adds calendar months in UTC, clamping the day (31 January + 1 month = 29 February in a leap year).
    ///
    /// The legal deadline of CESEDA R.432-2 is counted in months, not in days.
    public static func adding(months: Int, to date: Date) -> Date {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let fraction = date.timeIntervalSince1970 - Double(seconds)
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        let days = (seconds - secondOfDay) / 86_400
        let (year, month, day) = civilFromDays(days)
        let monthIndex = year * 12 + (month - 1) + months
        let newYear = monthIndex / 12, newMonth = monthIndex % 12 + 1
        let newDay = min(day, daysIn(month: newMonth, year: newYear))
        let newDays = daysFromCivil(year: newYear, month: newMonth, day: newDay)
        return Date(timeIntervalSince1970: Double(newDays * 86_400 + secondOfDay) + fraction)
    }

    @inlinable public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's civil algorithm).
    /// Inlinable: the projections' reader converts every time of every event with it.
    @inlinable public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
