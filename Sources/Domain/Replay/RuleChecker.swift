import Foundation

/// A breach found while replaying a journal.
public struct RuleViolation: Sendable, Equatable, CustomStringConvertible {
    /// The event's position in the journal, as given to `check`.
    public var position: UInt64
    public var stream: String
    public var type: String
    public var rule: RuleName
    public var message: String
    /// For `event.invalid` and `event.wrongStream`: what exactly is wrong with the data.
    public var problems: [ValidationProblem]

    public init(position: UInt64, stream: String, type: String, rule: RuleName, message: String, problems: [ValidationProblem] = []) {
        self.position = position
        self.stream = stream
        self.type = type
        self.rule = rule
        self.message = message
        self.problems = problems
    }

    public var description: String { "#\(position) \(stream) \(type): \(rule.rawValue): \(message)" }
}

/// Replays a journal event by event, in order, and reports every rule an event broke.
///
/// Used by the audit, which reports what the server itself would have refused (`registre import`
/// stores events as a journal checks them, without judging the domain). Each event is decoded, validated, checked against the state of the aggregate of its
/// stream, then applied even if it broke a rule, so that later findings reflect what the journal
/// really says. Memory grows with the number of aggregates, not of events.
public struct RuleChecker: Sendable {
    private struct SlotKey: AggregateTableKey, Sendable {
        var site: Site
        var slotId: UUID
        /// The slot id alone: a random UUID; the site is compared by `==`.
        var tableWords: (UInt64, UInt64) { slotId.tableWords }
    }

    public let rules: RuleParameters
    private var slots = AggregateTable<SlotKey, SlotState>()
    private var applicants = AggregateTable<IdentityKey, ApplicantState>()
    private var dossiers = AggregateTable<UUID, DossierState>()
    private var evidenceCounts = AggregateTable<Fingerprint, Int>()
    public private(set) var eventsChecked = 0
    /// Every booking's copy in its applicant's stream, in order: appointment ids are checked per
    /// slot and per applicant, so their reuse across aggregates needs all of them at the end
    /// (`appointmentIdConflicts`), possibly gathered from several checkers.
    public private(set) var bookings: [Booking] = []
    private var typeNames = TypeNameCache()
    /// The members of the event being decoded, kept from one event to the next.
    private var members: [JSONMember] = []
    /// The last event that decoded without a problem, to skip decoding its twin.
    private var lastDecoded = DecodedEventMemo()
    /// How many streams the event just checked lives in (`DomainEvent.homes.count`) when it
    /// decoded and sits in one of them; 0 after any other event (invalid, misplaced, or an
    /// integrator's own). An event of several streams must be appended to all of them at once
    /// (`stream.missingHome`): a checker sees one stream's events and cannot judge that, so the
    /// caller does, with the copies of the whole append (`missingHomeProblems`). A count, not the
    /// event: the audit keeps it for about half of a journal's events, and copying each decoded
    /// event out cost more than the judging.
    public private(set) var lastPlacedHomeCount = 0

    public init(rules: RuleParameters = .standard) {
        self.rules = rules
    }

    public func slot(site: Site, slotId: UUID) -> SlotState? { slots[SlotKey(site: site, slotId: slotId)] }
    public func applicant(_ identity: IdentityKey) -> ApplicantState? { applicants[identity] }
    public func dossier(_ dossierId: UUID) -> DossierState? { dossiers[dossierId] }
    public var aggregateCount: Int { slots.count + applicants.count + dossiers.count + evidenceCounts.count }

    public mutating func check(stream: String, type: String, data: some Collection<UInt8>, position: UInt64) -> [RuleViolation] {
        if let violations = data.withContiguousStorageIfAvailable({ check(stream: stream, type: type, bytes: $0, position: position) }) {
            return violations
        }
        let copy = Array(data)
        return copy.withUnsafeBufferPointer { check(stream: stream, type: type, bytes: $0, position: position) }
    }

    /// The same check over the stream name and type as UTF-8 bytes, as they lie in a journal
    /// record: the audit's hot path, which makes no `String` per event unless it reports one.
    public mutating func check(streamUTF8: UnsafeBufferPointer<UInt8>, typeUTF8: UnsafeBufferPointer<UInt8>,
                               data: UnsafeBufferPointer<UInt8>, position: UInt64) -> [RuleViolation] {
        let (type, reader) = typeNames.type(of: typeUTF8)
        return check(stream: StreamName(bytes: streamUTF8), text: { String(decoding: streamUTF8, as: UTF8.self) }, type: type, reader: reader,
                     bytes: data, position: position)
    }

    private mutating func check(stream streamText: String, type: String, bytes: UnsafeBufferPointer<UInt8>, position: UInt64) -> [RuleViolation] {
        var streamText = streamText
        let stream = streamText.withUTF8 { StreamName(bytes: $0) }
        return check(stream: stream, text: { streamText }, type: type, reader: DomainEvent.readers[type], bytes: bytes, position: position)
    }

    private mutating func check(stream: StreamName?, text: () -> String, type: String, reader: DomainEvent.Reader?,
                                bytes: UnsafeBufferPointer<UInt8>, position: UInt64) -> [RuleViolation] {
        eventsChecked += 1
        lastPlacedHomeCount = 0
        // An integrator's own event (neither a domain stream nor a catalogue type): the server
        // stores it as is, and no domain rule applies to it.
        if stream == nil, reader == nil, !StreamName.domainPrefixes.contains(where: { text().hasPrefix($0) }) { return [] }
        var problems: [ValidationProblem] = []
        let decoded: DomainEvent?
        if let twin = lastDecoded.event(type: type, data: bytes) {
            decoded = twin
        } else {
            decoded = DomainEvent.decode(type: type, reader: reader, bytes: bytes, eventIndex: 0, problems: &problems, members: &members)
            if let decoded { lastDecoded.remember(decoded, type: type, data: bytes) }
        }
        guard let stream else {
            let streamText = text()
            problems.insert(malformedStreamProblem(streamText, eventIndex: 0), at: 0)
            return [invalid(position, streamText, type, problems)]
        }
        guard let event = decoded else {
            return [invalid(position, text(), type, problems)]
        }
        let homes = event.homes
        if let problem = event.placementProblem(in: stream, homes: homes, eventIndex: 0) {
            return [RuleViolation(position: position, stream: text(), type: type, rule: .wrongStream, message: problem.message, problems: [problem])]
        }
        lastPlacedHomeCount = homes.count
        let rejection: Rejection?
        switch stream {
        case .slot(let site, let slotId):
            rejection = slots.update(SlotKey(site: site, slotId: slotId), default: { SlotState(site: site, slotId: slotId) }) { slot in
                Self.checkAndApply(event, to: &slot) { state, event throws(Rejection) in try state.check(event) }
            }
        case .applicant(let identity):
            if case .appointmentBooked(let b) = event {
                bookings.append(Booking(appointmentId: b.appointmentId, identity: identity, site: b.site, slotId: b.slotId, position: position))
            }
            let rules = rules
            rejection = applicants.update(identity, default: { ApplicantState(identityKey: identity) }) { applicant in
                Self.checkAndApply(event, to: &applicant) { state, event throws(Rejection) in try state.check(event, rules: rules) }
            }
        case .dossier(let dossierId):
            let rules = rules
            rejection = dossiers.update(dossierId, default: { DossierState(dossierId: dossierId) }) { dossier in
                Self.checkAndApply(event, to: &dossier) { state, event throws(Rejection) in try state.check(event, rules: rules) }
            }
        case .fingerprint(let fingerprint):
            // Evidence obeys no invariant beyond its own validity.
            evidenceCounts.update(fingerprint, default: { 0 }) { $0 += 1 }
            rejection = nil
        }
        guard let rejection else { return [] }
        return [RuleViolation(position: position, stream: text(), type: type, rule: rejection.rule, message: rejection.message)]
    }

    public struct Booking: Sendable, Equatable {
        public var appointmentId: UUID
        public var identity: IdentityKey
        public var site: Site
        public var slotId: UUID
        public var position: UInt64
    }

    /// Bookings that reuse an appointment id already booked for another applicant or another
    /// slot, each reported at the later booking. Within one slot or one applicant the aggregate's
    /// own rule (`appointment.alreadyExists`) reports it, so those are not repeated here.
    public static func appointmentIdConflicts(_ bookings: [Booking]) -> [RuleViolation] {
        appointmentIdConflicts(inLists: [bookings])
    }

    /// The same over the bookings of several checkers (the audit's shards), each list in its
    /// checker's order. A checker sees its streams in journal order, so each list is normally
    /// sorted by position already and the lists are merged as they are read, with one table
    /// lookup a booking: on ten million events this ran alone after every shard had finished,
    /// and a sort and a table grown step by step made it an eighth of the audit's time.
    public static func appointmentIdConflicts(inLists lists: [[Booking]]) -> [RuleViolation] {
        let lists = lists.map { list in
            zip(list, list.dropFirst()).allSatisfy { $0.position < $1.position } ? list : list.sorted { $0.position < $1.position }
        }
        // The first booking of each appointment id (`AggregateTable`: a Dictionary's SipHash over
        // the UUID was most of this loop's time).
        var first = AggregateTable<UUID, Booking>(capacity: lists.reduce(0) { $0 + $1.count })
        var found: [RuleViolation] = []
        var next = [Int](repeating: 0, count: lists.count)
        while true {
            var pick = -1
            for k in lists.indices where next[k] < lists[k].count {
                if pick < 0 || lists[k][next[k]].position < lists[pick][next[pick]].position { pick = k }
            }
            guard pick >= 0 else { break }
            let b = lists[pick][next[pick]]
            next[pick] += 1
            var isFirst = false
            let earlier = first.update(b.appointmentId, default: { isFirst = true; return b }) { $0 }
            guard !isFirst else { continue }
            guard earlier.identity != b.identity || earlier.site != b.site || earlier.slotId != b.slotId else { continue }
            found.append(RuleViolation(
                position: b.position, stream: StreamName.applicant(b.identity).description, type: AppointmentBooked.typeName, rule: .appointmentIdReused,
                message: "appointment \(b.appointmentId.canonicalString) was already booked at position \(earlier.position) for \(earlier.identity == b.identity ? "this applicant" : "another applicant") in slot \(earlier.slotId.canonicalString) at \(earlier.site.rawValue)"))
        }
        return found
    }

    private static func checkAndApply<State: FoldedAggregate>(
        _ event: DomainEvent,
        to state: inout State,
        using check: (State, DomainEvent) throws(Rejection) -> Void
    ) -> Rejection? {
        var rejection: Rejection?
        do { try check(state, event) } catch { rejection = error }
        state.apply(event)
        return rejection
    }

    private func invalid(_ position: UInt64, _ stream: String, _ type: String, _ problems: [ValidationProblem]) -> RuleViolation {
        RuleViolation(position: position, stream: stream, type: type, rule: .invalidEvent,
                      message: problems.map { "\($0.field): \($0.message)" }.joined(separator: "; "), problems: problems)
    }
}

/// The last event decoded without a problem, with the exact type and data it came from.
///
/// A booking, a cancellation, a reinstatement or an attendance is written twice in one append,
/// to the slot's stream and to the applicant's, with the same type and the same data bytes:
/// about a quarter of a replayed journal is such a twin of the event before it. Decoding is a
/// pure function of the type and the bytes, so the twin's decoded event is the one already made;
/// the match is byte for byte (no hash), and only a decode without problems is kept, so every
/// invalid event is decoded, and reported, on its own. The checks that depend on the stream
/// (placement, the aggregate's rules) still run for every event.
struct DecodedEventMemo: Sendable {
    private var type = ""
    private var data: [UInt8] = []
    private var decoded: DomainEvent?

    /// The event decoded last, if `type` and `data` are exactly what it was decoded from.
    func event(type: String, data bytes: UnsafeBufferPointer<UInt8>) -> DomainEvent? {
        guard let decoded, bytes.count == data.count, type == self.type else { return nil }
        let same = data.withUnsafeBufferPointer { kept in
            bytes.isEmpty || memcmp(kept.baseAddress!, bytes.baseAddress!, bytes.count) == 0
        }
        return same ? decoded : nil
    }

    mutating func remember(_ event: DomainEvent, type: String, data bytes: UnsafeBufferPointer<UInt8>) {
        self.type = type
        data.removeAll(keepingCapacity: true)
        data.append(contentsOf: bytes)
        decoded = event
    }
}

/// An aggregate folded from its stream's events.
protocol FoldedAggregate {
    mutating func apply(_ event: DomainEvent)
}

extension SlotState: FoldedAggregate {}
extension ApplicantState: FoldedAggregate {}
extension DossierState: FoldedAggregate {}

/// The event type names met so far, so that a type read as bytes becomes the same `String`, and
/// finds its reader, without decoding, allocating or hashing a `String` for every event.
/// Bounded: past 256 names (a journal full of unknown types) new names are decoded each time
/// instead of kept.
struct TypeNameCache: Sendable {
    /// Open addressing on `keys`, 512 places for at most 256 names; a key match is always
    /// confirmed byte for byte against the name's bytes in `spellings`. Column by column, so a
    /// lookup touches plain integers and bytes, and retains only what it returns.
    private var keys = [UInt64](repeating: 0, count: 512)
    private var used = [Bool](repeating: false, count: 512)
    private var starts = [Int](repeating: 0, count: 512)
    private var lengths = [Int](repeating: 0, count: 512)
    private var spellings: [UInt8] = []
    private var names = [String](repeating: "", count: 512)
    private var readers = [DomainEvent.Reader?](repeating: nil, count: 512)
    private var kept = 0

    mutating func type(of bytes: UnsafeBufferPointer<UInt8>) -> (name: String, reader: DomainEvent.Reader?) {
        let key = Self.key(bytes)
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 55)
        while used[i] {
            if keys[i] == key, lengths[i] == bytes.count,
               bytes.isEmpty || spellings.withUnsafeBufferPointer({ memcmp($0.baseAddress! + starts[i], bytes.baseAddress!, bytes.count) == 0 }) {
                return (names[i], readers[i])
            }
            i = (i + 1) & (keys.count - 1)
        }
        let name = String(decoding: bytes, as: UTF8.self)
        let reader = DomainEvent.readers[name]
        if kept < 256 {
            (used[i], keys[i], starts[i], lengths[i], names[i], readers[i]) = (true, key, spellings.count, bytes.count, name, reader)
            spellings.append(contentsOf: bytes)
            kept += 1
        }
        return (name, reader)
    }

    /// Length, and the first and last eight bytes: enough to tell the catalogue's names apart.
    @inline(__always) private static func key(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard b.count >= 8, let base = b.baseAddress else {
            var k = UInt64(b.count) << 56
            for (i, byte) in b.enumerated() { k |= UInt64(byte) << (8 * UInt64(i)) }
            return k
        }
        let raw = UnsafeRawPointer(base)
        let first = raw.loadUnaligned(as: UInt64.self)
        let last = raw.loadUnaligned(fromByteOffset: b.count - 8, as: UInt64.self)
        return first ^ (last &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(b.count)
    }
}
