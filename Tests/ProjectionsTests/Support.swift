import Domain
import Foundation
import Journal
@testable import Projections

/// A fresh directory under the system temporary directory, removed when released.
final class TemporaryDirectory {
    let path: String

    init(_ label: String) {
        path = NSTemporaryDirectory() + "registre-projections-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Pins the journal's clock: each append commits one second after the previous one, from
/// 2024-09-01T00:00:00Z, so that as-of times are predictable.
final class SecondClock: @unchecked Sendable {
    private let lock = NSLock()
    private var ticks: Int64 = 0
    static let origin: Int64 = 1_725_148_800 * 1_000_000

    func next() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        ticks += 1
        return Self.origin + ticks * 1_000_000
    }
}

/// Builds a history through the decision functions, keeping the aggregates up to date, and
/// writes each decision as one append.
final class History {
    var slots: [UUID: SlotState] = [:]
    var applicants: [IdentityKey: ApplicantState] = [:]
    var dossiers: [UUID: DossierState] = [:]
    var plans: [PlannedAppend] = []

    func record(_ plan: PlannedAppend) {
        plans.append(plan)
        for planned in plan.events {
            switch StreamName(parsing: planned.stream)! {
            case .slot(let site, let id): slots[id, default: SlotState(site: site, slotId: id)].apply(planned.event)
            case .applicant(let key): applicants[key, default: ApplicantState(identityKey: key)].apply(planned.event)
            case .dossier(let id): dossiers[id, default: DossierState(dossierId: id)].apply(planned.event)
            case .fingerprint: break
            }
        }
    }

    func slot(_ id: UUID, _ site: Site = .grenoble) -> SlotState { slots[id] ?? SlotState(site: site, slotId: id) }
    func applicant(_ key: IdentityKey) -> ApplicantState { applicants[key] ?? ApplicantState(identityKey: key) }
    func dossier(_ id: UUID) -> DossierState { dossiers[id] ?? DossierState(dossierId: id) }

    /// Writes every append to a new journal in `directory`; returns the events as committed.
    @discardableResult
    func write(to directory: String, segmentSize: Int = 64 << 20) throws -> [RecordedEvent] {
        var options = JournalOptions()
        options.durability = .relaxed
        options.segmentSizeLimit = segmentSize
        options.log = { _ in }
        let clock = SecondClock()
        options.clock = { clock.next() }
        let journal = try Journal.open(directory: directory, options: options)
        for plan in plans {
            _ = try journal.appendAndWait(AppendRequest(events: plan.envelopes.map { ProposedEvent(stream: $0.stream, type: $0.type, data: $0.data) }))
        }
        journal.close()
        return try JournalReader(directory: directory).read()
    }
}

enum Sample {
    static func uuid(_ n: Int) -> UUID {
        UUID(uuidString: String(format: "00000000-0000-4000-8000-%012x", n))!
    }

    static func hash(_ n: Int) -> Hash256 { Hash256(hex: String(repeating: "0", count: 48) + String(format: "%016x", n))! }
    static func identity(_ n: Int) -> IdentityKey { IdentityKey(hash(n)) }
    static func fingerprint(_ n: Int) -> Fingerprint { Fingerprint(hash(0x1_0000 + n)) }

    static func time(_ text: String) -> Date { UTCTime.parse(text)! }

    static func publication(_ slot: UUID, site: Site = .grenoble, motif: Motif = .filing, category: Domain.Category = .student,
                            start: Date, capacity: Int, release: UUID, at: Date) -> SlotPublished {
        SlotPublished(slotId: slot, site: site, motif: motif, category: category, start: start, durationMinutes: 15,
                      counter: "guichet 1", capacity: capacity, releaseId: release, occurredAt: at)
    }
}

extension Array where Element == RecordedEvent {
    /// Ids of the events of `type`, in journal order, keeping one per append for copied events.
    func ids(of type: String) -> [UUID] {
        var out: [UUID] = []
        var seenInAppend: Set<[UInt8]> = []
        for event in self {
            if event.type == type, seenInAppend.insert(event.data).inserted { out.append(event.id) }
            if event.endsAppend { seenInAppend.removeAll() }
        }
        return out
    }
}
