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
