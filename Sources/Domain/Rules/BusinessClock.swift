import Foundation

/// Guards the one place where the server's clock meets business time.
///
/// Rules are judged on `occurredAt` so that an imported or simulated history obeys them the same
/// way; the server must therefore refuse a live command whose business time is far from its own
/// clock, or a client could book a slot "yesterday" to dodge the start-time rule.
public struct BusinessClock: Sendable, Equatable {
    /// Seconds either way; `.infinity` accepts any business time, which only a server loading a past
    /// history (a migration, a simulation) should do.
    public var maximumSkew: TimeInterval

    public init(maximumSkew: TimeInterval = 120) {
        self.maximumSkew = maximumSkew
    }

    /// The instant at which a live write's time rules must hold as well as at its `occurredAt`,
    /// or nil. Within the tolerance a client still picks the time its rules are judged on: a
    /// cancellation dated a minute back would pass a cut-off that has passed, a booking dated a
    /// minute ahead would find the applicant's appointment of this minute no longer active. So a
    /// server also judges them at its own clock, unless it accepts any time (a past history is
    /// being loaded, `maximumSkew` infinite) or the two are the same instant (within a
    /// millisecond, as when the server filled the time in).
    public func alsoJudgedAt(occurredAt: Date, serverNow: Date) -> Date? {
        guard maximumSkew.isFinite, abs(occurredAt.timeIntervalSince(serverNow)) > 0.001 else { return nil }
        return serverNow
    }

    /// Throws when `occurredAt` is more than `maximumSkew` away from `serverNow`, either way.
    public func check(occurredAt: Date, serverNow: Date) throws(Rejection) {
        let skew = occurredAt.timeIntervalSince(serverNow)
        guard abs(skew) > maximumSkew else { return }
        throw Rejection(
            .businessTimeTooFarFromServerClock,
            "occurredAt \(UTCTime.string(occurredAt)) is \(Int(abs(skew).rounded())) s \(skew < 0 ? "behind" : "ahead of") the server clock (\(UTCTime.string(serverNow))); at most \(Int(maximumSkew)) s are accepted"
        )
    }
}
