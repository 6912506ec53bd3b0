import Domain
import Foundation
import Journal
import Projections
import Synchronization

/// The live projections the server answers `/projections/*` from: one `ProjectionSet` that
/// catches up with the journal before each query, so an answer reflects every event committed
/// before the request arrived. The first query folds the whole journal; later ones only the
/// events committed since.
public actor JournalProjections: LiveProjections {
    private let journal: Journal
    private var set = ProjectionSet()
    /// Set when the server shuts down: a fold in progress stops at the next event.
    private let stopping = Atomic<Bool>(false)
    private let encoder: JSONEncoder

    public init(journal: Journal) {
        self.journal = journal
        encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
    }

    /// Folds the events committed since the last query into `set` in place. A copy folded and
    /// assigned back would share every table with `set` until then, so its first change to each
    /// one would copy it whole (copy-on-write): every query after a commit would copy the tables
    /// the new events touch, millions of entities each. In place is safe: `apply` throws only
    /// before it changes anything (a position out of order, data it cannot read), and every
    /// event it folds leaves the set whole at the next position; a catch-up that stops on an
    /// error leaves the set at the last event folded, and the next query resumes from there.
    private func catchUp() throws {
        var stopped = false
        try journal.forEachEvent(from: set.position) { view in
            // Checked every event: the first query of a large journal folds millions of them, and
            // a shutdown must not wait for that (the set stays whole; the next query resumes).
            if stopping.load(ordering: .relaxed) {
                stopped = true
                return false
            }
            do { _ = try set.apply(view) } catch ProjectionError.invalidEvent { set.skipUndecodable(view) }
            return true
        }
        if stopped { throw ProjectionNotReady("the server is shutting down; the projections stopped at position \(set.position)") }
    }

    public nonisolated func stopFolding() {
        stopping.store(true, ordering: .relaxed)
    }

    private func json(_ value: some Encodable) throws -> [UInt8] {
        var bytes = Array(try encoder.encode(value))
        CanonicalUUIDText.lowercase(&bytes)
        return bytes
    }

    public func slots(_ query: SlotQuery) async throws -> [UInt8] {
        try catchUp()
        let slots = set.slotAvailability.allSlots().filter { slot in
            (query.site == nil || slot.site == query.site) && (query.category == nil || slot.category == query.category)
                && (query.from == nil || slot.start >= query.from!) && (query.to == nil || slot.start <= query.to!)
                && !slot.withdrawn && slot.free > 0
        }
        return try json(["position": AnyEncodable(set.position), "slots": AnyEncodable(slots)])
    }

    public func dossier(id: UUID) async throws -> [UInt8]? {
        try catchUp()
        guard let summary = set.dossier(id: id) else { return nil }
        return try json(summary)
    }

    public func dossiers(state: DossierStatus?) async throws -> [UInt8] {
        try catchUp()
        let list = state.map { set.dossiers(state: $0) } ?? set.dossierBoard.allDossiers()
        return try json(["position": AnyEncodable(set.position), "counts": AnyEncodable(set.dossierCounts()), "dossiers": AnyEncodable(list)])
    }

    public func delays(groupBy: DelayGrouping) async throws -> [UInt8] {
        try catchUp()
        let grouping: Projections.DelayGrouping = switch groupBy {
        case .overall: .overall
        case .category: .category
        case .month, .categoryMonth: .categoryMonth
        case .site, .categorySiteMonth: .categorySiteMonth
        }
        return try json(["position": AnyEncodable(set.position), "delays": AnyEncodable(set.delays(groupBy: grouping))])
    }

    public func abuse() async throws -> [UInt8] {
        try catchUp()
        return try json(["position": AnyEncodable(set.position), "ranking": AnyEncodable(set.abuseRanking(limit: 100)),
                         "releases": AnyEncodable(set.releases())])
    }
}

/// Lets the answers above mix differently typed members in one JSON object.
private struct AnyEncodable: Encodable {
    let encodeValue: (any Encoder) throws -> Void
    init(_ value: some Encodable) { encodeValue = value.encode(to:) }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}

/// Foundation's `JSONEncoder` writes a `UUID` as its `uuidString`, in capitals, and offers no
/// strategy to change that; every other answer of this server, the journal's envelope and the
/// offline exports write the canonical lowercase form. The projections' answers hold no free
/// text (their strings are ids, hashes, closed vocabularies and times), so every string that is
/// exactly a UUID in capitals is one of their ids, and is lowercased in place.
enum CanonicalUUIDText {
    /// Lowercases each JSON string token of the form `"XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"`.
    static func lowercase(_ bytes: inout [UInt8]) {
        let quote = UInt8(ascii: "\""), dash = UInt8(ascii: "-")
        let length = 38  // quotes included
        guard bytes.count >= length else { return }
        var i = 0
        while i + length <= bytes.count {
            guard bytes[i] == quote, bytes[i + length - 1] == quote, isUUID(bytes, from: i + 1, dash: dash) else {
                i += 1
                continue
            }
            for k in (i + 1)..<(i + length - 1) where bytes[k] >= UInt8(ascii: "A") && bytes[k] <= UInt8(ascii: "F") {
                bytes[k] += 32
            }
            i += length
        }
    }

    private static func isUUID(_ bytes: [UInt8], from start: Int, dash: UInt8) -> Bool {
        for k in 0..<36 {
            let b = bytes[start + k]
            if k == 8 || k == 13 || k == 18 || k == 23 {
                if b != dash { return false }
            } else if !((b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102)) {
                return false
            }
        }
        return true
    }
}
