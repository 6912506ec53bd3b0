import Domain
import Foundation

/// One slot of the live storm's release.
public struct StormSlot: Sendable, Equatable {
    public var site: Site
    public var slotId: UUID
    public var motif: Motif
    public var capacity: Int

    public init(site: Site, slotId: UUID, motif: Motif, capacity: Int) {
        self.site = site
        self.slotId = slotId
        self.motif = motif
        self.capacity = capacity
    }
}

/// What the server answered one booking attempt.
public enum StormAnswer: Equatable, Sendable {
    case booked
    case refused(rule: String)
    case failed(String)
}

/// What the server answered the live storm, and the figures the demo prints from it. Every
/// figure comes from the answers themselves (one per attempt), not from their order in the log:
/// the threads of the storm interleave their attempts.
public struct StormTally: Sendable {
    /// Bookings in one second since the release, bots and genuine applicants apart.
    public struct Second: Equatable, Sendable {
        public var second: Int
        public var bots: Int
        public var genuine: Int
    }

    struct Booking: Sendable, Equatable {
        var seconds: Double
        var bot: Bool
        var slotId: UUID
        var motif: Motif
        var identity: String
    }

    public let slots: [StormSlot]
    public let botFingerprints: Int
    public let applicants: Int
    private(set) var bookings: [Booking] = []
    private(set) var refused: [String: Int] = [:]
    private(set) var attempts = 0
    public private(set) var failures: [String] = []

    public init(slots: [StormSlot], botFingerprints: Int, applicants: Int) {
        self.slots = slots
        self.botFingerprints = botFingerprints
        self.applicants = applicants
    }

    public mutating func record(_ answer: StormAnswer, seconds: Double, slot: StormSlot, identity: String, bot: Bool) {
        attempts += 1
        switch answer {
        case .booked: bookings.append(Booking(seconds: seconds, bot: bot, slotId: slot.slotId, motif: slot.motif, identity: identity))
        case .refused(let rule): refused[rule, default: 0] += 1
        case .failed(let reason): failures.append(reason)
        }
    }

    var capacity: Int { slots.reduce(0) { $0 + $1.capacity } }
    var botPlaces: Int { bookings.count { $0.bot } }
    var genuinePlaces: Int { bookings.count { !$0.bot } }
    /// Genuine applicants the server gave a place, each counted once.
    var genuineApplicantsWithAPlace: Int { Set(bookings.lazy.filter { !$0.bot }.map(\.identity)).count }

    /// Slots the server granted more bookings than places.
    public var overbookedSlots: [UUID] {
        var perSlot: [UUID: Int] = [:]
        for b in bookings { perSlot[b.slotId, default: 0] += 1 }
        return slots.filter { (perSlot[$0.slotId] ?? 0) > $0.capacity }.map(\.slotId)
    }

    /// Identities the server gave two or more appointments for one motif. Nothing is cancelled
    /// during the storm and its identities are new to the journal, so each is two active
    /// appointments, which `applicant.oneActiveAppointmentPerMotif` forbids.
    public var identitiesWithTwoAppointments: Int {
        var perIdentity: [String: Int] = [:]
        for b in bookings { perIdentity[b.identity + "/" + b.motif.rawValue, default: 0] += 1 }
        return perIdentity.values.count { $0 > 1 }
    }

    /// Bookings per second since the release, bots and genuine applicants apart (up to a minute).
    public func perSecond() -> [Second] {
        let seconds = Int((bookings.map(\.seconds).max() ?? 0).rounded(.up)) + 1
        var perSecond = (0..<max(1, min(seconds, 60))).map { Second(second: $0, bots: 0, genuine: 0) }
        for b in bookings where Int(b.seconds) < perSecond.count {
            if b.bot { perSecond[Int(b.seconds)].bots += 1 } else { perSecond[Int(b.seconds)].genuine += 1 }
        }
        return perSecond
    }

    public var summary: String {
        let lastBot = bookings.filter(\.bot).map(\.seconds).max() ?? 0
        let refusedText = refused.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        var verdict: [String] = []
        let overbooked = overbookedSlots.count, doubled = identitiesWithTwoAppointments
        if overbooked > 0 { verdict.append("OVERBOOKED: \(overbooked) slots were given more bookings than places") }
        if doubled > 0 { verdict.append("TWO APPOINTMENTS: \(doubled) identities were given two appointments for one motif") }
        if verdict.isEmpty { verdict.append("no slot overbooked, no identity given two appointments for one motif") }
        return "\(capacity) places in \(slots.count) slots; \(botFingerprints) bot fingerprints took \(botPlaces) of them within \(String(format: "%.2f", lastBot)) s, "
            + "genuine applicants took \(genuinePlaces) (\(genuineApplicantsWithAPlace) of \(applicants) applicants got a place); "
            + "\(attempts) attempts, refused by rule: \(refusedText.isEmpty ? "none" : refusedText); "
            + verdict.joined(separator: "; ")
    }

    /// A genuine applicant's tries: each of `choices` in turn until the server grants one, with
    /// a pause after each refusal. Returns the attempts made.
    @discardableResult
    public static func tryInTurn(_ choices: [StormSlot], book: (StormSlot) -> StormAnswer, pause: () -> Void) -> Int {
        var attempts = 0
        for slot in choices {
            attempts += 1
            if book(slot) == .booked { break }
            pause()
        }
        return attempts
    }
}
