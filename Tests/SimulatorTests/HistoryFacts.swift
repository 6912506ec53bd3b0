import Foundation
import Domain
import Simulator

/// A simulated history read back as typed events, with the figures the tests compare to the
/// calibration targets. Everything here is computed from the events alone, as the audit would.
struct HistoryFacts {
    struct Booking {
        var appointmentId: UUID
        var identityKey: IdentityKey
        var fingerprint: Fingerprint
        var slotId: UUID
        var category: Category
        var occurredAt: Date
    }

    var events: [(stream: String, event: DomainEvent)] = []
    var categoryOfDossier: [UUID: Category] = [:]
    var firstCompletion: [UUID: Date] = [:]
    var available: [UUID: Date] = [:]
    var releaseOfSlot: [UUID: UUID] = [:]
    var releaseTime: [UUID: Date] = [:]
    var placesOfRelease: [UUID: Int] = [:]
    var bookings: [Booking] = []
    var mismatchedAppointments: Set<UUID> = []
    var rejectedAttempts: [(fingerprint: Fingerprint, count: Int)] = []

    init(_ appends: [SimulatedAppend]) {
        for append in appends {
            var previous: [UInt8]?
            for event in append.events {
                // An appointment event sits in two or three streams; count it once.
                defer { previous = event.data }
                if previous == event.data { continue }
                let decoded = try! DomainEvent.decode(type: event.type, data: event.data, eventIndex: 0)
                events.append((event.stream, decoded))
                record(decoded)
            }
        }
    }

    private mutating func record(_ event: DomainEvent) {
        switch event {
        case .dossierSubmitted(let submitted): categoryOfDossier[submitted.dossierId] = submitted.category
        case .dossierDeclaredComplete(let complete):
            if firstCompletion[complete.dossierId] == nil { firstCompletion[complete.dossierId] = complete.occurredAt }
        case .permitAvailable(let permit): available[permit.dossierId] = permit.occurredAt
        case .slotPublished(let slot):
            releaseOfSlot[slot.slotId] = slot.releaseId
            if releaseTime[slot.releaseId] == nil { releaseTime[slot.releaseId] = slot.occurredAt }
            placesOfRelease[slot.releaseId, default: 0] += slot.capacity
        case .appointmentBooked(let booked):
            bookings.append(Booking(appointmentId: booked.appointmentId, identityKey: booked.identityKey, fingerprint: booked.fingerprint,
                                    slotId: booked.slotId, category: booked.category, occurredAt: booked.occurredAt))
        case .identityMismatchAtCounter(let mismatch): mismatchedAppointments.insert(mismatch.appointmentId)
        case .bookingAttemptsRejected(let rejected): rejectedAttempts.append((rejected.fingerprint, rejected.count))
        default: break
        }
    }

    /// Months (of 30.44 days) from first completion to the permit being available, for dossiers
    /// of `category` completed before `completedBefore` (later ones may not have reached it yet).
    func delaysInMonths(_ category: Category, completedBefore: Date) -> [Double] {
        var delays: [Double] = []
        for (dossier, completed) in firstCompletion where completed < completedBefore && categoryOfDossier[dossier] == category {
            if let permit = available[dossier] { delays.append(permit.timeIntervalSince(completed) / (30.436875 * 86_400)) }
        }
        return delays
    }

    func bookings(from: Date, to: Date) -> Int {
        bookings.count { $0.occurredAt >= from && $0.occurredAt < to }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func utc(_ text: String) -> Date { UTCTime.parse(text)! }

/// Simulations shared by the tests, run once per test process.
enum SharedRuns {
    /// Two years at a tenth of the real volume: enough dossiers for stable medians and monthly
    /// counts, the second year in steady state.
    static let twoYears: (appends: [SimulatedAppend], summary: SimulationSummary, facts: HistoryFacts) = {
        let sink = MemorySink()
        let summary = try! Simulator(profile: .isere2024(scale: 0.1, years: 2, seed: 7)).run(into: sink)
        return (sink.appends, summary, HistoryFacts(sink.appends))
    }()
}
