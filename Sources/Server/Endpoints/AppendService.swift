import Domain
import Foundation
import Journal

/// `POST /append`: validation, business rules against the live aggregates, then one atomic append.
///
/// Rules are checked on the state folded through version V of each aggregate stream, and the
/// append then goes to the journal expecting exactly V. If another append moved a stream in
/// between, the journal refuses, and the check runs again on the new state; so a rule is always
/// judged on the state the append is committed after, and two racing bookings of the last place
/// can never both succeed.
struct AppendService: Sendable {
    let journal: Journal
    let store: AggregateStore
    let metrics: ServerMetrics
    let clock: BusinessClock
    let rules: RuleParameters
    let attempts: Int
    /// Where a booking refused by a rule is counted as evidence, as `/commands/book` counts it:
    /// a front end that books through `/append` must not leave its refused attempts off the record.
    var rejectedAttempts: RejectedAttempts? = nil
    /// False while serving a peer that may not read: a conflict then does not name the stream
    /// another event with the same id is in (a booking's derived id would name its applicant).
    var peerMayRead = true

    /// Whether `id` is of UUID version 8 with the RFC 9562 variant, as derived ids are.
    static func isDerived(_ id: UUID) -> Bool {
        id.uuid.6 >> 4 == 8 && id.uuid.8 >> 6 == 0b10
    }

    /// Events in a domain stream, or of a catalogue type, must be valid catalogue events.
    static func isDomain(_ e: ProposedEvent) -> Bool { StreamName.isDomain(stream: e.stream, type: e.type) }

    /// The async form, for callers outside an event loop (tests, tools).
    func append(_ body: AppendBody, permissions: Permissions) async -> ServerResponse {
        await withCheckedContinuation { continuation in
            append(body, permissions: permissions, resume: .inPlace) { continuation.resume(returning: $0) }
        }
    }

    /// Judges the append at once on the calling thread, and calls `done` exactly once: at once
    /// when it is refused, or at `resume` once the journal has committed (or refused) it.
    func append(_ body: AppendBody, permissions: Permissions, resume: ResumePoint,
                done: @escaping @Sendable (ServerResponse) -> Void) {
        if peerMayRead && !permissions.canRead {
            var forPeer = self
            forPeer.peerMayRead = false
            return forPeer.append(body, permissions: permissions, resume: resume, done: done)
        }
        for (index, e) in body.events.enumerated() {
            if let reason = permissions.appendRefusal(stream: e.stream, type: e.type) {
                return done(.error(.forbidden, "forbidden", reason) { $0.field("eventIndex", index) })
            }
        }
        // Ids of UUID version 8 are the ones the server derives (a booking's copies from its
        // appointment id, a command's events from its command id; docs/SERVER.md): a client may
        // send one only as a booking copy's own id, checked against its derivation below, so no
        // peer can store an event under an id a booking or a command will need.
        for (index, e) in body.events.enumerated() where e.type != AppointmentBooked.typeName {
            if let id = e.id, Self.isDerived(id) {
                return done(RequestProblem.response([RequestProblem(
                    eventIndex: index, field: "id", rule: "reservedEventId",
                    message: "\(id.canonicalString) is a UUID of version 8, which only the server derives (booking copies and commands' events): send another version, such as 4 or 7")]))
            }
        }
        // A retry of an append already committed answers with the original result, before any
        // rule is judged again (the rules would now refuse the very events that are in).
        if body.events.contains(where: { $0.id != nil }),
           let first = body.events.first(where: { $0.id != nil })?.id, (try? journal.event(id: first)) != nil {
            // A booking copy sent without its id has it filled in, as on the first send: with a
            // random one the retry would look like a partial duplicate.
            var retry = body
            for (i, e) in body.events.enumerated() where e.id == nil && e.type == AppointmentBooked.typeName {
                if let event = try? DomainEvent.decode(type: e.type, data: e.data, eventIndex: i),
                   let required = event.requiredEventID(inStreamNamed: e.stream) {
                    retry.assignID(required, toEventAt: i)
                }
            }
            return commit(retry.request(expecting: retry.expectations), resume: resume, done: done)
        }

        // A stale expectation is answered before any decoding: under a booking race most
        // attempts are late, and telling them so should cost a lookup, not a parse.
        // A stream that cannot be read is an error (503), not a stream that does not exist.
        let stale: [VersionConflict]
        do {
            stale = try body.expectations.compactMap { name, expected -> VersionConflict? in
                let current = try journal.committedLastVersion(of: name)
                return expected.isSatisfied(by: current) ? nil : VersionConflict(stream: name, expected: expected, actual: current)
            }
        } catch {
            return done(AppendOutcome.journalError(thrown: error))
        }
        if !stale.isEmpty {
            metrics.versionConflicts.increment()
            return done(AppendOutcome.conflict(stale))
        }

        // Validation of every domain event, all problems at once.
        let domainIndices = body.events.indices.filter { Self.isDomain(body.events[$0]) }
        if !domainIndices.isEmpty {
            let problems = validateAppend(domainIndices.map { (stream: body.events[$0].stream, type: body.events[$0].type, data: body.events[$0].data) })
            if !problems.isEmpty {
                return done(RequestProblem.response(problems.map { p in
                    var r = RequestProblem(p)
                    r.eventIndex = domainIndices[p.eventIndex]
                    return r
                }))
            }
        }
        var decoded: [Int: (stream: StreamName, event: DomainEvent)] = [:]
        for i in domainIndices {
            let e = body.events[i]
            guard let stream = StreamName(parsing: e.stream), let event = try? DomainEvent.decode(type: e.type, data: e.data, eventIndex: i) else { continue }
            decoded[i] = (stream, event)
        }
        // A booking's copies carry the ids derived from its appointment id, so that the journal
        // refuses a second booking of the same appointment id (`AppointmentBooked.eventID(in:)`).
        var body = body
        var filledIn: Int? = nil
        for i in domainIndices {
            guard let d = decoded[i], let required = d.event.requiredEventID(in: d.stream) else { continue }
            if let given = body.events[i].id, given != required {
                return done(RequestProblem.response([RequestProblem(
                    eventIndex: i, field: "id", rule: "bookingEventId",
                    message: "the id of an AppointmentBooked in \(d.stream) is derived from its appointmentId (docs/EVENTS.md): send \(required.canonicalString) or no id")]))
            }
            if body.events[i].id == nil, filledIn == nil { filledIn = i }
            body.assignID(required, toEventAt: i)
        }
        // A booking sent again without its ids after a lost answer: its derived id is committed
        // in the same stream. The journal answers it as a retry (the original result), before the
        // clock and the rules judge again events that are in already.
        if let i = filledIn, let id = body.events[i].id, let committed = try? journal.event(id: id), committed.stream == body.events[i].stream {
            return commit(body.request(expecting: body.expectations), resume: resume, done: done)
        }
        for i in domainIndices {
            guard let d = decoded[i] else { continue }
            do { try clock.check(occurredAt: d.event.occurredAt, serverNow: Date()) } catch {
                metrics.countRejection(rule: error.rule.rawValue)
                if case .appointmentBooked(let booking) = d.event {
                    _ = rejectedAttempts?.record(booking.fingerprint, rule: error.rule, at: Date())
                }
                return done(AppendOutcome.rejection(error, eventIndex: i))
            }
        }
        let guarded = Set(decoded.values.map(\.stream).filter { $0.kind != .fingerprint })
        if guarded.isEmpty {
            return commit(body.request(expecting: body.expectations), resume: resume, done: done)
        }
        judge(body, decoded: decoded, guarded: guarded, attempt: 1, resume: resume, done: done)
    }

    /// One attempt: fold the guarded aggregates, judge the rules on them, and append expecting
    /// exactly the versions judged. A conflict only this check asked for means the state moved
    /// in between: the next attempt judges again on the new state.
    private func judge(_ body: AppendBody, decoded: [Int: (stream: StreamName, event: DomainEvent)], guarded: Set<StreamName>,
                       attempt: Int, resume: ResumePoint, done: @escaping @Sendable (ServerResponse) -> Void) {
        let attempts = max(1, self.attempts)
        var folded: [StreamName: AggregateStore.Folded] = [:]
        do {
            for stream in guarded { folded[stream] = try store.load(stream) }
        } catch {
            return done(AppendOutcome.journalError(thrown: error))
        }
        // The client's own expectations, judged on what is committed now.
        var conflicts: [VersionConflict] = []
        for (name, expected) in body.expectations {
            let current: UInt64?
            if let state = StreamName(parsing: name).flatMap({ folded[$0] }) {
                current = state.version
            } else {
                do { current = try journal.committedLastVersion(of: name) } catch {
                    return done(AppendOutcome.journalError(thrown: error))
                }
            }
            if !expected.isSatisfied(by: current) { conflicts.append(VersionConflict(stream: name, expected: expected, actual: current)) }
        }
        if !conflicts.isEmpty {
            metrics.versionConflicts.increment()
            return done(AppendOutcome.conflict(conflicts))
        }
        // The tightened expectation is the version the rules are judged on.
        var expectations = body.expectations
        for (stream, state) in folded {
            expectations[stream.description] = state.version.map { ExpectedVersion.exact($0) } ?? .noStream
        }
        let now = Date()
        for i in body.events.indices {
            guard let d = decoded[i], var state = folded[d.stream] else { continue }
            do {
                try state.aggregate.check(d.event, rules: rules)
                // Judged on the server's clock as well (`BusinessClock.alsoJudgedAt`).
                if let serverTime = clock.alsoJudgedAt(occurredAt: d.event.occurredAt, serverNow: now) {
                    try state.aggregate.check(d.event.retimed(to: serverTime), rules: rules)
                }
            } catch {
                metrics.countRejection(rule: error.rule.rawValue)
                if case .appointmentBooked(let booking) = d.event {
                    _ = rejectedAttempts?.record(booking.fingerprint, rule: error.rule, at: Date())
                }
                return done(AppendOutcome.rejection(error, eventIndex: i))
            }
            state.aggregate.apply(d.event)
            folded[d.stream] = state
        }
        let started = ContinuousClock.now
        let request = body.request(expecting: expectations)
        resume.append(request, to: journal) { result in
            switch result {
            case .success(let result):
                recordSuccess(result, events: body.events.count, since: started)
                done(AppendOutcome.success(result))
            case .failure(.wrongExpectedVersion(let conflicts)):
                // A conflict the client asked for is its answer; one on a stream only this
                // check guarded means the state moved: judge the rules again on the new state.
                let visible = conflicts.filter { !(body.expectations[$0.stream] ?? .any).isSatisfied(by: $0.actual) }
                // The commit that moved the state may be this very append, sent before: its ids
                // are in now, and the journal answers it as a retry instead of the rules judging
                // again events that are in.
                if let id = body.events.lazy.compactMap(\.id).first, (try? journal.event(id: id)) != nil {
                    metrics.versionConflicts.increment()
                    return commit(body.request(expecting: body.expectations), resume: resume, done: done)
                }
                if !visible.isEmpty || attempt >= attempts {
                    metrics.versionConflicts.increment()
                    if visible.isEmpty { recordContendedBookings(decoded) }
                    done(AppendOutcome.conflict(visible.isEmpty ? conflicts : visible,
                                                message: visible.isEmpty ? "the streams kept moving during \(attempts) attempts; retry" : nil))
                } else {
                    judge(body, decoded: decoded, guarded: guarded, attempt: attempt + 1, resume: resume, done: done)
                }
            case .failure(let error):
                recordReusedBooking(error, in: request)
                done(AppendOutcome.journalError(error, in: request, peerMayRead: peerMayRead))
            }
        }
    }

    /// Appends and maps the outcome; counts what happened.
    func commit(_ request: AppendRequest, resume: ResumePoint, done: @escaping @Sendable (ServerResponse) -> Void) {
        let started = ContinuousClock.now
        resume.append(request, to: journal) { result in
            switch result {
            case .success(let result):
                recordSuccess(result, events: request.events.count, since: started)
                done(AppendOutcome.success(result))
            case .failure(let error):
                if case .wrongExpectedVersion = error { metrics.versionConflicts.increment() }
                recordReusedBooking(error, in: request)
                done(AppendOutcome.journalError(error, in: request, peerMayRead: peerMayRead))
            }
        }
    }

    /// Bookings that lost the race for their streams every time the server judged them again
    /// (`slot.contended`), once per booking.
    private func recordContendedBookings(_ decoded: [Int: (stream: StreamName, event: DomainEvent)]) {
        guard let rejectedAttempts else { return }
        var seen = Set<UUID>()
        for (_, d) in decoded.sorted(by: { $0.key < $1.key }) {
            guard case .appointmentBooked(let booking) = d.event, seen.insert(booking.appointmentId).inserted else { continue }
            _ = rejectedAttempts.record(booking.fingerprint, rule: .slotContended, at: Date())
        }
    }

    /// A booking refused because its appointment id is booked for another slot or applicant is
    /// a refused attempt like any other: one slot sold to several people shows up here.
    private func recordReusedBooking(_ error: JournalError, in request: AppendRequest) {
        guard let rejectedAttempts, let i = AppendOutcome.reusedBooking(error, in: request),
              case .appointmentBooked(let booking)? = try? DomainEvent.decode(type: request.events[i].type, data: request.events[i].data, eventIndex: i)
        else { return }
        _ = rejectedAttempts.record(booking.fingerprint, rule: .appointmentIdReused, at: Date())
    }

    func recordSuccess(_ result: AppendResult, events: Int, since started: ContinuousClock.Instant) {
        if result.wasAlreadyCommitted {
            metrics.idempotentRetries.increment()
        } else {
            metrics.appends.increment()
            metrics.appendedEvents.increment(by: Int64(events))
        }
        let elapsed = ContinuousClock.now - started
        metrics.appendLatency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
