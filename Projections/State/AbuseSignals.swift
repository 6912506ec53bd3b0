import Domain
import Foundation

/// The rules that make a client fingerprint suspicious, with their thresholds.
///
/// Each threshold is a count reached by one fingerprint over the whole history folded.
public struct AbuseThresholds: Sendable, Codable, Equatable {
    /// `many-identities`: distinct applicant identities booked for.
    public var distinctIdentities = 5
    /// `book-cancel-churn`: bookings the applicant cancelled within `churnWindowSeconds` of booking.
    public var churnedBookings = 3
    public var churnWindowSeconds: Int64 = 48 * 3600
    /// `release-sniping`: bookings made within `snipeWindowSeconds` of their release opening.
    public var snipedBookings = 3
    public var snipeWindowSeconds: Int64 = 10
    /// `identity-mismatch`: someone else came to the counter for this fingerprint's bookings.
    public var identityMismatches = 1
    /// `rejected-attempts`: booking attempts refused by a rule (summed from `BookingAttemptsRejected`).
    public var rejectedAttempts = 100
    /// `rate-limited`: `RateLimitTriggered` events.
    public var rateLimits = 1
    /// `duplicate-booking`: `DuplicateBookingDetected` events.
    public var duplicateBookings = 2
    /// `flagged-by-service`: `BookingFlagged` events already recorded by the server or the audit.
    public var flagsRecorded = 1
    /// At most this many supporting event ids are listed per flag; the count is always exact.
    public var evidencePerFlag = 50

    public init() {}
}

/// A rule that raised a flag on a fingerprint.
public enum SuspicionRule: String, Sendable, Codable, CaseIterable {
    case manyIdentities = "many-identities"
    case bookCancelChurn = "book-cancel-churn"
    case releaseSniping = "release-sniping"
    case identityMismatch = "identity-mismatch"
    case rejectedAttempts = "rejected-attempts"
    case rateLimited = "rate-limited"
    case duplicateBooking = "duplicate-booking"
    case flaggedByService = "flagged-by-service"
}

/// Per fingerprint: what it booked, for whom, what it cancelled, and the evidence recorded about it.
public struct AbuseSignals: Sendable, Codable, Equatable {
    struct Client: Sendable, Codable, Equatable {
        var key: HashKey
        var bookings: Int32 = 0
        var distinctIdentities: Int32 = 0
        var cancelledByApplicant: Int32 = 0
        var cancelledByService: Int32 = 0
        var churned: Int32 = 0
        var sniped: Int32 = 0
        var mismatches: Int32 = 0
        var rejectedAttempts: Int64 = 0
        var rejectedEvents: Int32 = 0
        var rateLimits: Int32 = 0
        var duplicates: Int32 = 0
        var flagsRecorded: Int32 = 0
        var firstSeen: Int64
        var lastSeen: Int64
        /// The identity and release of the first booking (release −1: a slot never published).
        /// While it is the only one they are kept here rather than in `clientIdentities` and
        /// `releaseClients`: most fingerprints book once, and adding to those tables of
        /// millions of entries was a cache miss per booking.
        var firstIdentity = HashKey(w0: 0, w1: 0, w2: 0, w3: 0)
        var firstRelease: Int32 = -1
        /// Ids of the evidence events of its fingerprint stream, capped per rule; absent for most clients.
        var evidence: [EvidenceRef]? = nil
    }

    struct EvidenceRef: Sendable, Codable, Equatable {
        var rule: SuspicionRule
        var eventId: UUID
    }

    /// One applicant identity booked for by one client, to count distinct identities.
    struct ClientIdentity: FastKey {
        var client: Int32
        var identity: HashKey

        var fastHash: UInt64 { identity.fastHash ^ UInt64(UInt32(bitPattern: client)) }
    }

    var thresholds = AbuseThresholds()
    var clientIndex = IndexTable()
    var clients = EntityArray<Client>()
    /// The identities booked for by clients with more than one booking (see `Client.firstIdentity`).
    var clientIdentities = KeyTable<ClientIdentity>()
    /// `release << 32 | client`, to count distinct clients per release, for clients with more
    /// than one booking (see `Client.firstRelease`).
    var releaseClients = KeyTable<UInt64>()

    @inline(__always) func position(of key: HashKey) -> Int32? {
        clients.withUnsafeBufferPointer { c in clientIndex.find(key.fastHash) { c[Int($0)].key == key } }
    }

    public init(thresholds: AbuseThresholds = AbuseThresholds()) {
        self.thresholds = thresholds
    }

    mutating func client(_ key: HashKey, at: Int64) -> Int32 {
        if let known = position(of: key) {
            let i = Int(known)
            clients[i].firstSeen = min(clients[i].firstSeen, at)
            clients[i].lastSeen = max(clients[i].lastSeen, at)
            return known
        }
        let index = Int32(clients.count)
        clientIndex.insert(key.fastHash, index)
        clients.append(Client(key: key, firstSeen: at, lastSeen: at))
        return index
    }

    /// Records a booking; returns whether the client is new to the release.
    mutating func booked(client: Int32, identity: HashKey, release: Int32?, sniped: Bool) -> Bool {
        let i = Int(client)
        let earlier = clients[i].bookings
        clients[i].bookings += 1
        if sniped { clients[i].sniped += 1 }
        @inline(__always) func pair(_ release: Int32) -> UInt64 { UInt64(UInt32(bitPattern: release)) << 32 | UInt64(UInt32(bitPattern: client)) }
        if earlier == 0 {
            clients[i].firstIdentity = identity
            clients[i].firstRelease = release ?? -1
            clients[i].distinctIdentities = 1
            return release != nil
        }
        if earlier == 1 {
            // A second booking: the first one's identity and release join the tables.
            clientIdentities.insert(ClientIdentity(client: client, identity: clients[i].firstIdentity))
            if clients[i].firstRelease >= 0 { releaseClients.insert(pair(clients[i].firstRelease)) }
        }
        if clientIdentities.insert(ClientIdentity(client: client, identity: identity)).inserted { clients[i].distinctIdentities += 1 }
        guard let release else { return false }
        return releaseClients.insert(pair(release)).inserted
    }

    mutating func evidence(_ client: Int32, _ rule: SuspicionRule, _ eventId: UUID) {
        let i = Int(client)
        var list = clients[i].evidence ?? []
        if list.lazy.filter({ $0.rule == rule }).count < thresholds.evidencePerFlag { list.append(EvidenceRef(rule: rule, eventId: eventId)) }
        clients[i].evidence = list
    }

    // MARK: Queries

    public func fingerprint(_ fingerprint: Fingerprint, appointments: AppointmentLedger) -> FingerprintSignals? {
        guard let index = position(of: HashKey(fingerprint)) else { return nil }
        return ranking(appointments: appointments, only: index).first
    }

    /// The flags the rules raise on one client, without their evidence.
    func flags(_ c: Client) -> [SuspicionFlag] {
        let t = thresholds
        var flags: [SuspicionFlag] = []
        func flag(_ rule: SuspicionRule, _ observed: Int64, _ threshold: Int64) {
            guard threshold > 0, observed >= threshold else { return }
            flags.append(SuspicionFlag(rule: rule, observed: Int(observed), threshold: Int(threshold), evidenceCount: 0, evidenceEventIds: []))
        }
        flag(.manyIdentities, Int64(c.distinctIdentities), Int64(t.distinctIdentities))
        flag(.bookCancelChurn, Int64(c.churned), Int64(t.churnedBookings))
        flag(.releaseSniping, Int64(c.sniped), Int64(t.snipedBookings))
        flag(.identityMismatch, Int64(c.mismatches), Int64(t.identityMismatches))
        flag(.rejectedAttempts, c.rejectedAttempts, Int64(t.rejectedAttempts))
        flag(.rateLimited, Int64(c.rateLimits), Int64(t.rateLimits))
        flag(.duplicateBooking, Int64(c.duplicates), Int64(t.duplicateBookings))
        flag(.flaggedByService, Int64(c.flagsRecorded), Int64(t.flagsRecorded))
        return flags
    }

    /// Every fingerprint with its signals and flags, the suspicious first (highest score), then
    /// by bookings; `rank` counts only the flagged ones.
    func ranking(appointments: AppointmentLedger, only: Int32? = nil) -> [FingerprintSignals] {
        var rows: [(Int32, FingerprintSignals)] = []
        for (i, c) in clients.enumerated() where only == nil || Int32(i) == only {
            let flags = self.flags(c)
            let score = flags.reduce(0.0) { $0 + Double($1.observed) / Double($1.threshold) }
            rows.append((Int32(i), FingerprintSignals(fingerprint: c.key.fingerprint, bookings: Int(c.bookings), distinctIdentities: Int(c.distinctIdentities),
                                                       cancelledByApplicant: Int(c.cancelledByApplicant), cancelledByService: Int(c.cancelledByService),
                                                       bookCancelChurn: Int(c.churned), snipedBookings: Int(c.sniped), identityMismatches: Int(c.mismatches),
                                                       rejectedAttempts: Int(c.rejectedAttempts), rateLimits: Int(c.rateLimits), duplicateBookings: Int(c.duplicates),
                                                       flagsRecorded: Int(c.flagsRecorded), firstSeen: Millis.date(c.firstSeen), lastSeen: Millis.date(c.lastSeen),
                                                       score: score, rank: nil, flags: flags)))
        }
        rows.sort { a, b in
            if a.1.score != b.1.score { return a.1.score > b.1.score }
            if a.1.bookings != b.1.bookings { return a.1.bookings > b.1.bookings }
            return clients[Int(a.0)].key < clients[Int(b.0)].key
        }
        var rank = 0
        for k in rows.indices where !rows[k].1.flags.isEmpty {
            rank += 1
            rows[k].1.rank = rank
        }
        attachEvidence(&rows, appointments: appointments)
        return rows.map(\.1)
    }

    /// Fills each flag's supporting event ids: bookings, cancellations and mismatches come from the
    /// appointments (one pass over them), evidence events from the fingerprint's own list.
    private func attachEvidence(_ rows: inout [(Int32, FingerprintSignals)], appointments: AppointmentLedger) {
        var rowOf: [Int32: Int] = [:]
        for (k, row) in rows.enumerated() where !row.1.flags.isEmpty { rowOf[row.0] = k }
        guard !rowOf.isEmpty else { return }
        var found: [Int32: [SuspicionRule: (count: Int, ids: [UUID])]] = [:]
        func add(_ client: Int32, _ rule: SuspicionRule, _ id: UUID) {
            var entry = found[client, default: [:]][rule] ?? (0, [])
            entry.count += 1
            if entry.ids.count < thresholds.evidencePerFlag { entry.ids.append(id) }
            found[client, default: [:]][rule] = entry
        }
        for a in appointments.inBookingOrder() where rowOf[a.client] != nil {
            add(a.client, .manyIdentities, a.bookingEvent)
            if a.sniped { add(a.client, .releaseSniping, a.bookingEvent) }
            if let churn = a.churnEvent { add(a.client, .bookCancelChurn, churn) }
            if let mismatch = a.mismatchEvent { add(a.client, .identityMismatch, mismatch) }
        }
        for (client, k) in rowOf {
            for ref in clients[Int(client)].evidence ?? [] { add(client, ref.rule, ref.eventId) }
            for f in rows[k].1.flags.indices {
                let rule = rows[k].1.flags[f].rule
                let entry = found[client]?[rule] ?? (0, [])
                rows[k].1.flags[f].evidenceEventIds = entry.ids
                rows[k].1.flags[f].evidenceCount = evidenceCount(rule, clients[Int(client)], listed: entry.count)
            }
        }
    }

    private func evidenceCount(_ rule: SuspicionRule, _ c: Client, listed: Int) -> Int {
        switch rule {
        case .manyIdentities, .releaseSniping, .bookCancelChurn, .identityMismatch: listed
        case .rejectedAttempts, .rateLimited, .duplicateBooking, .flaggedByService: c.evidenceEvents(rule)
        }
    }
}

extension AbuseSignals {
    /// What is wrong with the fingerprints, their index and the tables of their later bookings,
    /// or `nil`: every reference names a fingerprint and a release that exist, each fingerprint's
    /// distinct identities and evidence ids agree with its counts, and no counter is negative or
    /// larger than the `position` events folded.
    func inconsistency(releases: Int, eventsFolded position: UInt64) -> String? {
        // The fold multiplies the windows by 1,000.
        guard (0...(Int64.max / 1000)).contains(thresholds.churnWindowSeconds), (0...(Int64.max / 1000)).contains(thresholds.snipeWindowSeconds) else {
            return "its abuse thresholds have a churn window of \(thresholds.churnWindowSeconds) s and a snipe window of \(thresholds.snipeWindowSeconds) s"
        }
        if let problem = clients.withUnsafeBufferPointer({ c in clientIndex.inconsistency(entities: c.count) { c[$0].key.fastHash } }) {
            return "the fingerprint index: \(problem)"
        }
        if let repeated = firstRepeat(in: clients, key: \.key) { return "fingerprint \(repeated) repeats an earlier fingerprint" }
        if let problem = clientIdentities.inconsistency() { return "the identities booked for: \(problem)" }
        if let problem = releaseClients.inconsistency() { return "the fingerprints per release: \(problem)" }
        var identities = [Int](repeating: 0, count: clients.count)
        for pair in clientIdentities.keys {
            guard pair.client >= 0, Int(pair.client) < clients.count else {
                return "the identities booked for name fingerprint \(pair.client), but there are \(clients.count) fingerprints"
            }
            identities[Int(pair.client)] += 1
        }
        for pair in releaseClients.keys {
            let release = Int(pair >> 32), client = Int(pair & 0xFFFF_FFFF)
            guard release < releases, client < clients.count else {
                return "the fingerprints per release name release \(release) and fingerprint \(client), but there are \(releases) releases and \(clients.count) fingerprints"
            }
            guard clients[client].bookings >= 2 else { return "the fingerprints per release list fingerprint \(client), which booked fewer than twice" }
        }
        let evidenceRules: [SuspicionRule] = [.rejectedAttempts, .rateLimited, .duplicateBooking, .flaggedByService]
        for (i, c) in clients.enumerated() {
            if let problem = BusinessTime.outside(["first sighting": c.firstSeen, "last sighting": c.lastSeen]) { return "fingerprint \(i): \(problem)" }
            guard c.firstSeen <= c.lastSeen else { return "fingerprint \(i) was last seen before it was first seen" }
            let counters: KeyValuePairs<String, Int32> = [
                "bookings": c.bookings, "applicant cancellations": c.cancelledByApplicant, "service cancellations": c.cancelledByService,
                "churned bookings": c.churned, "sniped bookings": c.sniped, "identity mismatches": c.mismatches,
                "rejection events": c.rejectedEvents, "rate limits": c.rateLimits, "duplicate bookings": c.duplicates, "flags": c.flagsRecorded,
            ]
            for (name, n) in counters where n < 0 || UInt64(n) > position {
                return "fingerprint \(i) counts \(n) \(name), after \(position) events"
            }
            // Each `BookingAttemptsRejected` counts 1 to 1,000,000 attempts.
            guard c.rejectedAttempts >= Int64(c.rejectedEvents), c.rejectedAttempts <= Int64(c.rejectedEvents) * 1_000_000 else {
                return "fingerprint \(i) counts \(c.rejectedAttempts) rejected attempts in \(c.rejectedEvents) events"
            }
            guard c.firstRelease >= -1, Int(c.firstRelease) < releases else {
                return "fingerprint \(i) names release \(c.firstRelease) for its first booking, but there are \(releases) releases"
            }
            // The first booking's identity and release join the tables at the second booking.
            switch c.bookings {
            case 0:
                guard c.distinctIdentities == 0, c.firstRelease == -1, identities[i] == 0 else {
                    return "fingerprint \(i) booked nothing but has identities or a first release"
                }
            case 1:
                guard c.distinctIdentities == 1, identities[i] == 0 else {
                    return "fingerprint \(i) booked once but counts \(c.distinctIdentities) identities (\(identities[i]) listed)"
                }
            default:
                guard Int(c.distinctIdentities) == identities[i] else {
                    return "fingerprint \(i) counts \(c.distinctIdentities) distinct identities, but \(identities[i]) are listed for it"
                }
                guard clientIdentities.ordinal(of: ClientIdentity(client: Int32(i), identity: c.firstIdentity)) != nil,
                      c.firstRelease < 0 || releaseClients.ordinal(of: UInt64(UInt32(c.firstRelease)) << 32 | UInt64(i)) != nil else {
                    return "fingerprint \(i) booked \(c.bookings) times, but its first booking's identity or release is not listed"
                }
            }
            // The evidence ids: the first `evidencePerFlag` events of each evidence rule.
            let events = evidenceRules.reduce(0) { $0 + c.evidenceEvents($1) }
            guard let evidence = c.evidence else {
                if events == 0 { continue }
                return "fingerprint \(i) has \(events) evidence events but no evidence ids"
            }
            guard events > 0 else { return "fingerprint \(i) has evidence ids but no evidence event" }
            for rule in SuspicionRule.allCases {
                let listed = evidence.lazy.filter { $0.rule == rule }.count
                let expected = min(c.evidenceEvents(rule), max(0, thresholds.evidencePerFlag))
                guard listed == expected else { return "fingerprint \(i) lists \(listed) evidence ids for \(rule.rawValue), where its counts make \(expected)" }
            }
        }
        return nil
    }

    /// Per release, the distinct fingerprints that booked into it, from the fingerprints' own
    /// records (`Client.firstRelease` while a fingerprint booked once, `releaseClients` after).
    /// Call it on a state whose references `inconsistency` checked.
    func distinctClientsPerRelease(releases: Int) -> [Int] {
        var out = [Int](repeating: 0, count: releases)
        for c in clients where c.bookings == 1 && c.firstRelease >= 0 { out[Int(c.firstRelease)] += 1 }
        for pair in releaseClients.keys { out[Int(pair >> 32)] += 1 }
        return out
    }
}

extension AbuseSignals.Client {
    /// How many evidence events of `rule` were folded (the list keeps only the first few ids).
    func evidenceEvents(_ rule: SuspicionRule) -> Int {
        switch rule {
        case .rateLimited: Int(rateLimits)
        case .duplicateBooking: Int(duplicates)
        case .flaggedByService: Int(flagsRecorded)
        case .rejectedAttempts: Int(rejectedEvents)
        default: 0
        }
    }
}

/// One fingerprint's signals, and the flags raised on it.
public struct FingerprintSignals: Sendable, Codable, Equatable {
    public var fingerprint: Fingerprint
    public var bookings: Int
    public var distinctIdentities: Int
    public var cancelledByApplicant: Int
    public var cancelledByService: Int
    /// Bookings cancelled by the applicant within the churn window after booking.
    public var bookCancelChurn: Int
    /// Bookings made within the snipe window after their release opened.
    public var snipedBookings: Int
    public var identityMismatches: Int
    public var rejectedAttempts: Int
    public var rateLimits: Int
    public var duplicateBookings: Int
    public var flagsRecorded: Int
    public var firstSeen: Date
    public var lastSeen: Date
    /// Sum over its flags of observed ÷ threshold; 0 when nothing was flagged.
    public var score: Double
    /// 1 for the most suspicious; `nil` when no rule flagged it.
    public var rank: Int?
    public var flags: [SuspicionFlag]
}

/// One rule's finding on one fingerprint, with the journal events that support it.
public struct SuspicionFlag: Sendable, Codable, Equatable {
    public var rule: SuspicionRule
    public var observed: Int
    public var threshold: Int
    /// How many events support the flag; `evidenceEventIds` lists the first of them.
    public var evidenceCount: Int
    /// Journal event ids, in journal order.
    public var evidenceEventIds: [UUID]
}
