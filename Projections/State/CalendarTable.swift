import Domain

/// A value per day and category, stored by week: the seven days of every category of one week
/// sit side by side in one block.
///
/// The dossier fold updates the day of each step's business time, and those days fall in a
/// window of a few hundred days around the journal's present (completions, decisions and
/// permits months ahead). Keyed by a hash of the day and category, each of them had a bucket
/// of its own somewhere in a table of every day ever seen, and the bucket load missed the cache
/// and the TLB on most steps; here the window is a few dozen blocks. Only weeks that hold a
/// value take memory.
/// The number of categories (`CalendarTable` is generic, so it cannot hold it as a static stored property).
private let calendarCategories = Domain.Category.allCases.count

struct CalendarTable<Value: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    /// Read once: `allCases` builds an array on every call, which was a `malloc` and a `free` per dossier step.
    @inline(__always) static var categories: Int { calendarCategories }
    /// Values per block: 7 days × every category, each with a bit in a block's `present` word.
    static var blockSize: Int { 7 * categories }

    /// Week number → block ordinal.
    private(set) var weeks = KeyTable<UInt64>()
    /// `blockSize` values per block, in block order; a value not `present` is the filler.
    private(set) var values: [Value] = []
    /// Per block, bit `dayOfWeek × categories + category` is set once that value was updated.
    private(set) var present: [UInt64] = []

    init() {
        precondition(Self.blockSize <= 64, "a block's presence bits must fit one word")
    }

    /// Week and day in week of a day number, rounding down also before 1970.
    @inline(__always) static func week(of day: Int32) -> (week: Int32, offset: Int) {
        let week = day >= 0 ? day / 7 : (day - 6) / 7
        return (week, Int(day - week * 7))
    }

    @inline(__always) private static func slot(offset: Int, category: Domain.Category) -> Int {
        offset * categories + Int(ordinal(category))
    }

    /// Updates the value of `day` and `category` in place, starting from `initial` when it has none.
    @inline(__always)
    mutating func update<R>(day: Int32, category: Domain.Category, default initial: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        let (week, offset) = Self.week(of: day)
        let (inserted, block) = weeks.insert(UInt64(UInt32(bitPattern: week)))
        if inserted {
            let filler = initial()
            values.append(contentsOf: repeatElement(filler, count: Self.blockSize))
            present.append(0)
        }
        let slot = Self.slot(offset: offset, category: category)
        let b = Int(block)
        let i = b * Self.blockSize + slot
        if present[b] & (1 << UInt64(slot)) == 0 {
            present[b] |= 1 << UInt64(slot)
            values[i] = initial()
        }
        return body(&values[i])
    }

    /// The value of `day` and `category`, if it was ever updated.
    subscript(day: Int32, category: Domain.Category) -> Value? {
        let (week, offset) = Self.week(of: day)
        guard let block = weeks.ordinal(of: UInt64(UInt32(bitPattern: week))) else { return nil }
        let slot = Self.slot(offset: offset, category: category)
        guard present[Int(block)] & (1 << UInt64(slot)) != 0 else { return nil }
        return values[Int(block) * Self.blockSize + slot]
    }

    /// Every day and category that holds a value, in no particular order.
    func forEachKey(_ body: (_ day: Int32, _ category: Domain.Category) -> Void) {
        let categories = Domain.Category.allCases
        for (block, key) in weeks.keys.enumerated() {
            let week = Int32(bitPattern: UInt32(truncatingIfNeeded: key))
            var bits = present[block]
            while bits != 0 {
                let slot = bits.trailingZeroBitCount
                bits &= bits - 1
                body(week * 7 + Int32(slot / Self.categories), categories[categories.index(categories.startIndex, offsetBy: slot % Self.categories)])
            }
        }
    }

    /// Days and categories that hold a value.
    var count: Int { present.reduce(0) { $0 + $1.nonzeroBitCount } }
}

extension CalendarTable {
    /// What is wrong with the weeks, the blocks and their presence bits, or `nil`: every week is a
    /// week of business days (`BusinessTime.days`), every block whole, no bit past a block's
    /// values, and every value not present still `filler` (what a block starts with).
    func inconsistency(filler: Value) -> String? {
        if let problem = weeks.inconsistency() { return "its weeks: \(problem)" }
        guard present.count == weeks.count, values.count == weeks.count * Self.blockSize else {
            return "it holds \(values.count) values and \(present.count) presence words for \(weeks.count) weeks of \(Self.blockSize) values"
        }
        let firstWeek = Self.week(of: BusinessTime.days.lowerBound).week, lastWeek = Self.week(of: BusinessTime.days.upperBound).week
        let unused: UInt64 = Self.blockSize == 64 ? 0 : ~0 << UInt64(Self.blockSize)
        for (block, key) in weeks.keys.enumerated() {
            guard key <= UInt64(UInt32.max), (firstWeek...lastWeek).contains(Int32(bitPattern: UInt32(key))) else {
                return "its week key \(key) is not a week of business days"
            }
            guard present[block] & unused == 0 else { return "the presence word of its week \(Int32(bitPattern: UInt32(key))) has bits past its \(Self.blockSize) values" }
            for slot in 0..<Self.blockSize where present[block] & (1 << UInt64(slot)) == 0 && values[block * Self.blockSize + slot] != filler {
                return "its week \(Int32(bitPattern: UInt32(key))) holds a value where none was recorded"
            }
        }
        return nil
    }
}
