import Domain

/// The checks a decoded state must pass before anything folds into it or reads it.
///
/// A checkpoint's checksum catches damage, not forgery: a file whose contents were altered and
/// whose checksum was recomputed reads back as any `ProjectionSet` its bytes spell. The fold and
/// the queries trust the state's cross-references (an appointment's slot and client, an index's
/// positions, a release's slot counts) and would trap on an out-of-range one, loop forever on an
/// index with no empty bucket, or silently write wrong tables. `firstInconsistency()` checks every
/// such reference and every total one table keeps of another, in time linear in the state's
/// size, and names the first thing that is wrong.
extension ProjectionSet {
    /// What is wrong with this state, or `nil` when it is consistent. Call it on a state decoded
    /// from bytes that could have been altered (`CheckpointReader` does) before folding into it.
    public func firstInconsistency() -> String? {
        if let problem = ownInconsistency() { return problem }
        let slots = slotAvailability.slots, releases = slotAvailability.releases
        let clients = abuseSignals.clients, ledger = appointments.appointments
        // Each part on its own: its indexes, the references it holds, its times and counters.
        if let problem = slotAvailability.inconsistency(eventsFolded: position) { return problem }
        if let problem = appointments.inconsistency(slots: slots.count, clients: clients.count) { return problem }
        if let problem = abuseSignals.inconsistency(releases: releases.count, eventsFolded: position) { return problem }
        if let problem = dossierBoard.inconsistency(eventsFolded: position) { return problem }
        if let problem = delayStatistics.inconsistency() { return problem }

        // What one part says about another. Every reference used below was checked above.
        var holders = [Int](repeating: 0, count: slots.count)
        var perClient = [(bookings: Int, sniped: Int, churned: Int, mismatches: Int)](repeating: (0, 0, 0, 0), count: clients.count)
        for a in ledger {
            if a.slot >= 0, a.status != .cancelled { holders[Int(a.slot)] += 1 }
            let c = Int(a.client)
            perClient[c].bookings += 1
            if a.sniped { perClient[c].sniped += 1 }
            if a.churnEvent != nil { perClient[c].churned += 1 }
            if a.mismatchEvent != nil { perClient[c].mismatches += 1 }
        }
        // An appointment not cancelled holds one place of its slot, and only those do (the fold
        // takes a place for a booking, a reinstatement or a move, and gives it back for a
        // cancellation or a move away): a slot's places booked are exactly those appointments,
        // so a forged state cannot show a held place as free.
        for (i, slot) in slots.enumerated() where Int(slot.booked) != holders[i] {
            return "slot \(i) has \(slot.booked) places booked, but \(holders[i]) appointments hold one"
        }
        for (c, client) in clients.enumerated() {
            let counted = perClient[c]
            let pairs: [(String, Int32, Int)] = [("bookings", client.bookings, counted.bookings), ("sniped bookings", client.sniped, counted.sniped),
                                                 ("churned bookings", client.churned, counted.churned),
                                                 ("identity mismatches", client.mismatches, counted.mismatches)]
            for (what, held, found) in pairs where Int(held) != found {
                return "fingerprint \(c) counts \(held) \(what), but its appointments make \(found)"
            }
        }
        let distinct = abuseSignals.distinctClientsPerRelease(releases: releases.count)
        var newBookings = 0
        for (r, release) in releases.enumerated() {
            if Int(release.distinctFingerprints) != distinct[r] {
                return "release \(r) counts \(release.distinctFingerprints) distinct fingerprints, but the fingerprints' bookings make \(distinct[r])"
            }
            newBookings += Int(release.bookings)
        }
        if newBookings > ledger.count {
            return "the releases count \(newBookings) bookings, but there are \(ledger.count) appointments"
        }
        let waits = delayStatistics.sampleCount(of: .bookingToAppointment)
        if waits != ledger.count {
            return "the delays hold \(waits) booking-to-appointment samples, but there are \(ledger.count) appointments"
        }
        // Entities are made by events: never more of them than events of their kind folded.
        func folded(_ kinds: EventKind...) -> UInt64 { kinds.reduce(0) { $0 &+ kindCounts[Int($1.rawValue)] } }
        let made: [(String, Int, UInt64)] = [
            ("slots", slots.count, folded(.slotPublished)),
            ("appointments", ledger.count, folded(.appointmentBooked)),
            ("dossiers", dossierBoard.dossiers.count, folded(.dossierSubmitted)),
            ("fingerprints", clients.count, folded(.appointmentBooked, .bookingAttemptsRejected, .rateLimitTriggered, .duplicateBookingDetected, .bookingFlagged)),
        ]
        for (what, count, events) in made where UInt64(count) > events {
            return "it holds \(count) \(what), more than the \(events) events that make them"
        }
        return nil
    }

    /// The set's own counters: events per type, anomalies, the copies of the append being read.
    private func ownInconsistency() -> String? {
        guard kindCounts.count == EventKind.allCases.count else {
            return "it counts events of \(kindCounts.count) types; the catalogue has \(EventKind.allCases.count)"
        }
        guard (position == 0) == (lastRecordedAtMicros == nil) else {
            return position == 0 ? "it folded no event but has a last commit time" : "it folded \(position) events but has no last commit time"
        }
        for (kind, anomaly) in anomalyTable {
            guard anomaly.kind == kind else { return "its anomaly \(kind.rawValue) is filed as \(anomaly.kind.rawValue)" }
            guard anomaly.count >= 1, UInt64(anomaly.count) <= position, anomaly.firstPosition < position else {
                return "its anomaly \(kind.rawValue) counts \(anomaly.count) from position \(anomaly.firstPosition), after \(position) events"
            }
        }
        let named = foreignTypes.count - (foreignTypes[Self.otherForeignTypes] == nil ? 0 : 1)
        guard named <= Self.maximumForeignTypeNames else {
            return "it names \(named) types outside the catalogue; at most \(Self.maximumForeignTypeNames) are named"
        }
        // Every event folded is counted once: by its type, as a foreign type, or as undecodable.
        var total = UInt64(anomalyTable[.undecodableEvent]?.count ?? 0)
        var overflow = false
        for n in kindCounts + Array(foreignTypes.values) {
            let (sum, over) = total.addingReportingOverflow(n)
            total = sum
            overflow = overflow || over
        }
        guard !overflow, total == position else {
            return "its counts of events by type add up to \(overflow ? "more than 2^64" : String(total)), but it folded \(position) events"
        }
        for entry in copiesInAppend.entries {
            guard let kind = EventKind(rawValue: entry.key.kind), kind.isCopiedAcrossStreams else {
                return "it remembers a copy of an event of kind \(entry.key.kind), which is never copied"
            }
            guard entry.count >= 1, UInt64(entry.count) <= position else {
                return "it remembers \(entry.count) records of one event in one stream, after \(position) events"
            }
        }
        if let repeated = firstRepeat(in: copiesInAppend.entries, key: { CopyStream(key: $0.key, stream: $0.stream) }) {
            return "it remembers the records of one event in one stream twice (entry \(repeated) of the append's copies)"
        }
        return nil
    }
}

/// An event and a stream, as `copiesInAppend` holds at most one count for each.
private struct CopyStream: Hashable {
    var key: ProjectionSet.CopyKey
    var stream: UInt64
}

/// The business times the catalogue can spell: four-digit years, 0000-01-01T00:00:00Z up to
/// 10000-01-01T00:00:00Z (9999-12-31T23:59:59.9995Z rounds up to it). Every time the fold keeps
/// came from an event, so it lies in this range; the differences of two of them (delays, the
/// churn and snipe windows) cannot overflow.
enum BusinessTime {
    static let first = Int64(UTCTime.daysFromCivil(year: 0, month: 1, day: 1)) * 86_400_000
    static let last = Int64(UTCTime.daysFromCivil(year: 10_000, month: 1, day: 1)) * 86_400_000
    static var span: Int64 { last - first }
    static var days: ClosedRange<Int32> { CivilCalendar.day(ofMillis: first)...CivilCalendar.day(ofMillis: last) }
    static var months: ClosedRange<Int32> { CivilCalendar.monthIndex(ofDay: days.lowerBound)...CivilCalendar.monthIndex(ofDay: days.upperBound) }

    static func contains(_ ms: Int64) -> Bool { ms >= first && ms <= last }
    static func contains(_ ms: Int64?) -> Bool { ms.map(contains) ?? true }

    /// `nil` when every time of `times` is a business time; else which one is not.
    static func outside(_ times: KeyValuePairs<String, Int64?>) -> String? {
        for (name, time) in times where !contains(time) { return "its \(name) (\(time!) ms) is not a time the catalogue can spell" }
        return nil
    }
}

/// The position of the first element whose key an earlier element has, or `nil`. Hashes with the
/// standard library's randomly seeded hash, so it is linear whatever keys a crafted file holds.
func firstRepeat<C: Collection, Key: Hashable>(in elements: C, key: (C.Element) -> Key) -> Int? where C.Index == Int {
    var seen = Set<Key>(minimumCapacity: elements.count)
    for (i, element) in zip(elements.indices, elements) where !seen.insert(key(element)).inserted { return i }
    return nil
}
