import Foundation
import Domain

/// The simulated prefecture: a discrete-event simulation whose every event is planned by the
/// domain's decision functions against the aggregate states it keeps, so that the history obeys
/// the rules the server and the audit check.
///
/// A class, because its state is large and mutated in place on every action.
final class SimulationEngine {
    let profile: SimulationProfile
    let rules = RuleParameters.standard
    var random: SeededRandom
    /// Event ids come from their own stream, so adding an event type does not reshuffle the model.
    var idRandom: SeededRandom
    let startTime: Double
    let endTime: Double
    var now: Double
    var agenda = Agenda()

    /// Live entities by reference; finished ones are removed, so memory follows what is in flight.
    var people: [Int: Person] = [:]
    var bots: [Int: BotBooking] = [:]
    var slots: [Int: SlotEntry] = [:]
    var nextReference = 0

    func newReference() -> Int {
        nextReference += 1
        return nextReference
    }
    var pools: [Pool]
    var botFingerprints: [Fingerprint]

    /// Refused booking attempts not yet recorded, per minute then per fingerprint, in arrival order.
    var pendingEvidence: [Double: [(fingerprint: Fingerprint, rule: RuleName, count: Int)]] = [:]

    /// The last day whose appointments have been released, as a UTC midnight.
    var horizon: Double
    var lastReleaseTime: Double?
    var releaseDaysSeen = 0

    var output: [SimulatedAppend] = []
    var outputIndex = 0
    var tally = Tally()
    var finished = false

    init(profile: SimulationProfile) {
        self.profile = profile
        random = SeededRandom(seed: profile.seed)
        idRandom = SeededRandom(seed: profile.seed &* 0x2545_F491_4F6C_DD1D &+ 1)
        startTime = profile.start.timeIntervalSince1970.rounded()
        endTime = profile.end.timeIntervalSince1970
        now = startTime
        horizon = ParisTime.dayStart(profile.start).timeIntervalSince1970 + 2 * ParisTime.day
        var pools: [Pool] = []
        for site in Site.allCases {
            for motif in Motif.allCases {
                for category in Category.allCases { pools.append(Pool(site: site, motif: motif, category: category)) }
            }
        }
        self.pools = pools
        var fingerprints: [Fingerprint] = []
        for _ in 0..<max(1, profile.botFingerprintPool) { fingerprints.append(random.fingerprint()) }
        botFingerprints = fingerprints
        agenda.schedule(.day(ParisTime.dayStart(profile.start).timeIntervalSince1970), at: startTime)
    }

    var date: Date { Date(timeIntervalSince1970: now) }

    // MARK: Driving

    /// Runs actions until at least `minimum` appends are ready or the simulated period is over.
    func nextAppends(minimum: Int) -> [SimulatedAppend] {
        output.removeAll(keepingCapacity: true)
        while output.count < minimum, !finished {
            guard let (time, action) = agenda.next(), time < endTime else {
                finished = true
                break
            }
            now = max(now, time)
            perform(action)
        }
        return output
    }

    private func perform(_ action: Action) {
        switch action {
        case .day(let dayStart): startDay(dayStart)
        case .release: release()
        case .arrival(let category): arrive(Category.allCases[category])
        case .attempt(let person, let generation, let afterRelease): attempt(person, generation, afterRelease: afterRelease)
        case .appointmentDue(let person, let generation): appointmentDue(person, generation)
        case .applicantCancels(let person, let generation): applicantCancels(person, generation)
        case .reinstate(let person, let generation): reinstate(person, generation)
        case .reschedule(let person, let generation): reschedule(person, generation)
        case .dossier(let person, let step): advanceDossier(person, step)
        case .botBooks(let slot, let fingerprint): botBooks(slot, fingerprint)
        case .botFate(let bot): botFate(bot)
        case .botRebooksForBuyer(let bot): botRebooksForBuyer(bot)
        case .botAppointmentDue(let bot): botAppointmentDue(bot)
        case .flushEvidence(let minute): flushEvidence(minute)
        case .withdrawSlot(let slot): withdrawSlot(slot)
        case .slotStarts(let slot): slotStarts(slot)
        }
    }

    func schedule(_ action: Action, at time: Double) {
        // Business times sit on the millisecond grid, as the catalogue stores them.
        agenda.schedule(action, at: max(now, (time * 1000).rounded() / 1000))
    }

    func schedule(_ action: Action, after delay: Double) { schedule(action, at: now + delay) }

    // MARK: Emitting

    /// Turns a decision into a simulated append. A refused decision is a bug of the simulator,
    /// not of the prefecture: it is counted, and nothing is written.
    @discardableResult
    func emit(_ decision: () throws(Rejection) -> PlannedAppend) -> PlannedAppend? {
        let plan: PlannedAppend
        do { plan = try decision() } catch {
            tally.refusedDecisions += 1
            if tally.firstRefusal == nil { tally.firstRefusal = "\(UTCTime.string(date)): \(error)" }
            return nil
        }
        var events: [SimulatedEvent] = []
        events.reserveCapacity(plan.events.count)
        for planned in plan.events {
            // Drawn for every event, so the other events' ids do not depend on this rule; a
            // booking's copies take the ids derived from the appointment id, as the server requires.
            let drawn = idRandom.uuid()
            events.append(SimulatedEvent(stream: planned.stream, type: planned.event.typeName,
                                         id: planned.event.requiredEventID(inStreamNamed: planned.stream) ?? drawn,
                                         data: planned.data, metadata: Self.metadata(for: planned.event)))
        }
        var expectations: [StreamExpectation] = []
        for planned in plan.events where !expectations.contains(where: { $0.stream == planned.stream }) {
            expectations.append(StreamExpectation(stream: planned.stream, expected: plan.expectedVersions[planned.stream] ?? .any))
        }
        output.append(SimulatedAppend(events: events, expectations: expectations, occurredAt: date))
        tally.count(plan, at: now)
        return plan
    }

    private static let planning = Array(#"{"source":"planning"}"#.utf8)
    private static let bookingSite = Array(#"{"source":"booking-site"}"#.utf8)
    private static let counter = Array(#"{"source":"counter"}"#.utf8)
    private static let caseHandling = Array(#"{"source":"case-handling"}"#.utf8)
    private static let frontEnd = Array(#"{"source":"booking-front-end"}"#.utf8)

    /// Which service issued the command, as a real deployment records it.
    static func metadata(for event: DomainEvent) -> [UInt8] {
        switch event {
        case .slotPublished, .slotWithdrawn: planning
        case .appointmentBooked, .appointmentRescheduled, .appointmentCancelledByApplicant, .appointmentReinstated: bookingSite
        case .appointmentCancelledByService, .appointmentAttended, .appointmentNoShow, .identityMismatchAtCounter: counter
        case .bookingAttemptsRejected, .rateLimitTriggered, .duplicateBookingDetected, .bookingFlagged: frontEnd
        default: caseHandling
        }
    }
}
