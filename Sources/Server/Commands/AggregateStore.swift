import Domain
import Foundation
import Journal

/// One aggregate as folded from its stream, and the journal version it was folded through.
enum Aggregate: Sendable {
    case slot(SlotState)
    case applicant(ApplicantState)
    case dossier(DossierState)

    init(empty stream: StreamName) {
        switch stream {
        case .slot(let site, let slotId): self = .slot(SlotState(site: site, slotId: slotId))
        case .applicant(let key): self = .applicant(ApplicantState(identityKey: key))
        case .dossier(let id): self = .dossier(DossierState(dossierId: id))
        // Evidence streams hold no invariant; they are never folded.
        case .fingerprint: preconditionFailure("fingerprint streams are not aggregates")
        }
    }

    mutating func apply(_ event: DomainEvent) {
        switch self {
        case .slot(var s): s.apply(event); self = .slot(s)
        case .applicant(var a): a.apply(event); self = .applicant(a)
        case .dossier(var d): d.apply(event); self = .dossier(d)
        }
    }

    mutating func skipUndecodable() {
        switch self {
        case .slot(var s): s.skipUndecodable(); self = .slot(s)
        case .applicant(var a): a.skipUndecodable(); self = .applicant(a)
        case .dossier(var d): d.skipUndecodable(); self = .dossier(d)
        }
    }

    func check(_ event: DomainEvent, rules: RuleParameters) throws(Rejection) {
        switch self {
        case .slot(let s): try s.check(event)
        case .applicant(let a): try a.check(event, rules: rules)
        case .dossier(let d): try d.check(event, rules: rules)
        }
    }
}

/// Folded aggregates kept between requests, so that checking a booking costs a version lookup
/// rather than a read of the stream. An entry is used only when its version is the stream's
/// last committed version; otherwise the events after it are read and folded in.
final class AggregateStore: @unchecked Sendable {
    struct Folded: Sendable {
        var aggregate: Aggregate
        /// The last journal version folded in; nil while the stream does not exist.
        var version: UInt64?
    }

    private let journal: Journal
    private let lock = NSLock()
    private var cache: [String: Folded] = [:]
    private let capacity: Int

    init(journal: Journal, capacity: Int = 200_000) {
        self.journal = journal
        self.capacity = capacity
    }

    /// The aggregate of `stream` as of its last committed event.
    func load(_ stream: StreamName) throws -> Folded {
        let name = stream.description
        // Unreadable is not empty: a slot whose segment cannot be read would be refused as "not
        // published" and counted against the client as a refused attempt; it is an error (503).
        let current = try journal.committedLastVersion(of: name)
        // A stream that does not exist is folded from nothing, and not worth a cache entry.
        guard let current else { return Folded(aggregate: Aggregate(empty: stream), version: nil) }
        let cached = lock.withLock { cache[name] }
        if let cached, cached.version == current { return cached }
        var folded = cached ?? Folded(aggregate: Aggregate(empty: stream), version: nil)
        if let v = folded.version, v > current {
            // Cannot happen with one writer; start again rather than trust it.
            folded = Folded(aggregate: Aggregate(empty: stream), version: nil)
        }
        while true {
            let from = folded.version.map { $0 + 1 } ?? 0
            let page = try journal.readStream(name, from: from, limit: 1000)
            for e in page {
                if let event = try? DomainEvent.decode(type: e.type, data: e.data, eventIndex: 0) {
                    folded.aggregate.apply(event)
                } else {
                    folded.aggregate.skipUndecodable()
                }
                folded.version = e.version
            }
            if page.count < 1000 { break }
        }
        let result = folded
        lock.withLock {
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            // Two requests may fold the same stream at once; keep the newer fold.
            if let existing = cache[name]?.version, let mine = result.version, existing > mine { return }
            cache[name] = result
        }
        return result
    }
}
