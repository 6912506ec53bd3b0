import Domain
import Foundation
import Journal
import Logging

/// The domain commands: read the aggregates, run a decision function on their live state, and
/// append its result with the versions it was decided on. A racing append makes the journal
/// refuse; the command then decides again on the new state, a bounded number of times.
struct CommandService: Sendable {
    let journal: Journal
    let store: AggregateStore
    let metrics: ServerMetrics
    let clock: BusinessClock
    let rules: RuleParameters
    let attempts: Int
    let rejectedAttempts: RejectedAttempts
    let logger: Logger

    /// Loads aggregates for a decision.
    struct Aggregates {
        let store: AggregateStore
        func slot(_ site: Site, _ slotId: UUID) throws -> SlotState {
            guard case .slot(let s) = try store.load(.slot(site: site, slotId: slotId)).aggregate else { fatalError("slot stream folded as another aggregate") }
            return s
        }
        func applicant(_ key: IdentityKey) throws -> ApplicantState {
            guard case .applicant(let a) = try store.load(.applicant(key)).aggregate else { fatalError("applicant stream folded as another aggregate") }
            return a
        }
        func dossier(_ id: UUID) throws -> DossierState {
            guard case .dossier(let d) = try store.load(.dossier(id)).aggregate else { fatalError("dossier stream folded as another aggregate") }
            return d
        }
    }

    /// How a command sent again (a timeout, a lost answer, a client resending its queue) is
    /// recognised, so that it gets its original result instead of being decided a second time.
    struct RetryKey: Sendable {
        /// The events the command writes whose ids are fixed before deciding (a booking's
        /// copies, by its appointment id), with the stream each goes to.
        var events: [(id: UUID, stream: String)] = []
        /// The client's name for the command, with the digest of its fields.
        var command: CommandKey?
        /// True when `events`' ids follow from `command` (a `book` with a command id):
        /// found in other streams, they show the command id used for another booking.
        var eventsFollowCommand = false
    }

    /// One command being run: what it is, for whom, and where its answer goes.
    private struct Invocation: Sendable {
        let name: String
        let time: Date
        /// Whether the client gave `time` (else the server filled it in, and it is its clock).
        let clientDated: Bool
        let permissions: Permissions
        let writes: [(stream: StreamName, types: Set<String>)]
        let fingerprint: Fingerprint?
        let key: RetryKey
        let extra: @Sendable (inout JSONBuilder) -> Void
        let resume: ResumePoint
        let done: @Sendable (ServerResponse) -> Void
        let decide: @Sendable (Aggregates) throws -> PlannedAppend
    }

    /// Runs `decide` until its append commits, a rule refuses it, or the attempts run out, and
    /// calls `done` exactly once. Decisions run on the calling thread and, after a conflict, at
    /// `resume`; the append waits for its group commit without holding a thread.
    /// `evidenceFrom` names the client fingerprint whose refused attempts are kept as evidence.
    /// `writes` names the streams the command will append to and the event types it records
    /// there (the input says which): a peer without a grant for them is refused before any state is read,
    /// so it learns nothing from the rules' verdicts and leaves no evidence in anyone's name.
    /// (The events decided are checked again, exactly, before they are appended.)
    /// `retry` says how the same command sent again is recognised (`retryAnswer`): before the
    /// first decision, again before each decision that follows a version conflict (the conflict
    /// may be the first send's own commit) and before a rule's refusal is answered, and once
    /// more when the journal answers that the ids are in. A retry found gets the original result;
    /// the rules, which would now refuse the very events that are in, are not asked again, so a
    /// client retrying after a timeout is not recorded as a refused attempt.
    func run(_ name: String, at time: Date, clientDated: Bool = true, permissions: Permissions, writes: [(stream: StreamName, types: Set<String>)],
             evidenceFrom fingerprint: Fingerprint? = nil, retry: RetryKey = RetryKey(),
             extra: @escaping @Sendable (inout JSONBuilder) -> Void = { _ in }, resume: ResumePoint,
             done: @escaping @Sendable (ServerResponse) -> Void,
             decide: @escaping @Sendable (Aggregates) throws -> PlannedAppend) {
        for (stream, types) in writes {
            if let reason = permissions.appendRefusal(stream: stream.description, anyOf: types) {
                return done(.error(.forbidden, "forbidden", reason))
            }
        }
        let run = Invocation(name: name, time: time, clientDated: clientDated, permissions: permissions, writes: writes, fingerprint: fingerprint, key: retry,
                             extra: extra, resume: resume, done: done, decide: decide)
        if let answer = retryAnswer(run) { return done(answer) }
        do { try clock.check(occurredAt: time, serverNow: Date()) } catch {
            return done(refuse(error, fingerprint: fingerprint, at: time))
        }
        attempt(1, run)
    }

    private func attempt(_ attempt: Int, _ run: Invocation) {
        let attempts = max(1, self.attempts)
        if attempt > 1, let answer = retryAnswer(run) { return run.done(answer) }
        let plan: PlannedAppend
        do {
            plan = try run.decide(Aggregates(store: store))
            if run.clientDated { try judgeOnServerClock(plan, givenTime: run.time) }
        } catch let rejection as Rejection {
            // The first send may have committed since the retry key was looked up, and the
            // rule refuse its events: then this is its retry, not a refused attempt.
            if let answer = retryAnswer(run) { return run.done(answer) }
            return run.done(refuse(rejection, fingerprint: run.fingerprint, at: run.time))
        } catch let error as JournalError {
            return run.done(AppendOutcome.journalError(error))
        } catch {
            return run.done(.error(.internalServerError, "internal", "\(error)"))
        }
        for e in plan.events {
            if let reason = run.permissions.appendRefusal(stream: e.stream, type: e.event.typeName) {
                return run.done(.error(.forbidden, "forbidden", reason))
            }
        }
        let command = run.key.command
        let metadata = Self.metadata(ofCommand: run.name, fieldsDigest: command?.fieldsDigest)
        let request = AppendRequest(
            events: plan.events.enumerated().map { k, e in
                // A booking's copies carry the ids derived from its appointment id, so the
                // journal refuses a second booking of the same id (`AppointmentBooked.eventID(in:)`);
                // other events those of the client's command id, if it gave one.
                ProposedEvent(stream: e.stream, type: e.event.typeName,
                              id: e.event.requiredEventID(inStreamNamed: e.stream) ?? command.map { CommandEventID.eventID(commandId: $0.id, index: k) },
                              data: e.data, metadata: metadata)
            },
            expectedVersions: plan.expectedVersions.mapValues { e -> ExpectedVersion in
                switch e {
                case .any: .any
                case .noStream: .noStream
                case .streamExists: .streamExists
                case .exact(let v): .exact(v)
                }
            })
        let started = ContinuousClock.now
        let events = request.events.count
        run.resume.append(request, to: journal) { result in
            switch result {
            case .success(let result):
                // The journal found these ids committed (two sends of one command racing): the
                // committed events must be this command's, with these fields, to be its answer.
                if result.wasAlreadyCommitted, let answer = retryAnswer(run) { return run.done(answer) }
                AppendService(journal: journal, store: store, metrics: metrics, clock: clock, rules: rules, attempts: attempts)
                    .recordSuccess(result, events: events, since: started)
                run.done(AppendOutcome.success(result, extra: run.extra))
            case .failure(.wrongExpectedVersion(let conflicts)):
                metrics.versionConflicts.increment()
                if attempt >= attempts {
                    if let fingerprint = run.fingerprint { rejectedAttempts.record(fingerprint, rule: .slotContended, at: Date()) }
                    run.done(AppendOutcome.conflict(conflicts, message: "the aggregates kept changing during \(attempts) attempts; retry"))
                } else {
                    self.attempt(attempt + 1, run)
                }
            case .failure(let error):
                if let fingerprint = run.fingerprint, AppendOutcome.reusedBooking(error, in: request) != nil {
                    rejectedAttempts.record(fingerprint, rule: .appointmentIdReused, at: Date())
                }
                run.done(AppendOutcome.journalError(error, in: request, peerMayRead: run.permissions.canRead))
            }
        }
    }

    /// The answer to a command already sent, or nil when it is new.
    ///
    /// Events found under the retry key's ids must be this command's: in the streams it writes,
    /// of types the peer may append (or the answer would tell a peer what a fresh send would
    /// refuse it), and, for a command named by its client, with the same fields digest.
    private func retryAnswer(_ run: Invocation) -> ServerResponse? {
        let command = run.key.command
        let streams = Set(run.writes.map(\.stream.description))
        func forbidden(_ events: [RecordedEvent]) -> ServerResponse? {
            for e in events {
                if let reason = run.permissions.appendRefusal(stream: e.stream, type: e.type) { return .error(.forbidden, "forbidden", reason) }
            }
            return nil
        }
        func original(_ events: [RecordedEvent]) -> ServerResponse {
            let result = Self.result(ofCommitted: events)
            AppendService(journal: journal, store: store, metrics: metrics, clock: clock, rules: rules, attempts: attempts)
                .recordSuccess(result, events: events.count, since: .now)
            return AppendOutcome.success(result, extra: run.extra)
        }
        func reused(_ command: CommandKey, _ what: String) -> ServerResponse {
            .error(.conflict, "commandIdReused", "commandId \(command.id.canonicalString) \(what); a retry sends the same fields, a new intention a new command id")
        }
        func otherFields(_ command: CommandKey, _ found: RecordedEvent) -> ServerResponse {
            reused(command, "was sent before with other fields (its events carry the metadata \(Self.shown(found.metadata)), this send's fields digest is \(command.fieldsDigest))")
        }
        if !run.key.events.isEmpty {
            let found = run.key.events.map { (wanted: $0, event: try? journal.event(id: $0.id)) }
            if found.allSatisfy({ $0.event?.stream == $0.wanted.stream }) {
                let events = found.compactMap(\.event)
                if let refusal = forbidden(events) { return refusal }
                if let command, !events.allSatisfy({ Self.metadata($0.metadata, isOfCommand: run.name, fieldsDigest: command.fieldsDigest) }) {
                    return otherFields(command, events[0])
                }
                return original(events)
            }
            if let command, run.key.eventsFollowCommand, found.contains(where: { $0.event != nil }) {
                return reused(command, "was sent before for another booking (its appointment id follows from the command id, and that booking is in other streams)")
            }
        }
        guard let command else { return nil }
        var events: [RecordedEvent] = []
        while events.count < 64, let e = try? journal.event(id: CommandEventID.eventID(commandId: command.id, index: events.count)) {
            events.append(e)
        }
        // A command that wrote no events of its own may have been a booking without an
        // appointment id: its copies are under ids derived from the command id.
        if events.isEmpty, !run.key.eventsFollowCommand,
           AppointmentBooked.eventIDs(appointmentId: CommandEventID.appointmentId(commandId: command.id)).contains(where: { (try? journal.event(id: $0)) != nil }) {
            return reused(command, "already names a booking")
        }
        guard let first = events.first else { return nil }
        guard events.allSatisfy({ streams.contains($0.stream) }) else {
            return reused(command, "already names events in other streams (the first in \(first.stream), with the metadata \(Self.shown(first.metadata)))")
        }
        if let refusal = forbidden(events) { return refusal }
        if events.allSatisfy({ Self.metadata($0.metadata, isOfCommand: run.name, fieldsDigest: command.fieldsDigest) }) {
            return original(events)
        }
        if events.allSatisfy({ $0.metadata.starts(with: Self.metadataOpening(ofCommand: run.name)) }) {
            return otherFields(command, first)
        }
        return reused(command, "already names another command, whose events carry the metadata \(Self.shown(first.metadata))")
    }

    /// What the journal answered when `events` (not empty) were appended together.
    private static func result(ofCommitted events: [RecordedEvent]) -> AppendResult {
        var versions: [String: UInt64] = [:]
        for e in events { versions[e.stream] = max(versions[e.stream] ?? 0, e.version) }
        let positions = events.map(\.position)
        return AppendResult(firstPosition: positions.min()!, lastPosition: positions.max()!, versions: versions, wasAlreadyCommitted: true)
    }

    /// The metadata of every event a command appends: which command wrote it and, for a command
    /// named by its client, the digest of its fields.
    static func metadata(ofCommand name: String, fieldsDigest: String? = nil) -> [UInt8] {
        guard let fieldsDigest else { return Array(#"{"command":"\#(name)"}"#.utf8) }
        return Array(#"{"command":"\#(name)","fields":"\#(fieldsDigest)"}"#.utf8)
    }

    /// Whether `metadata` is that of command `name` with these fields. Events written before
    /// digests were kept name the command only, and match any fields.
    static func metadata(_ metadata: [UInt8], isOfCommand name: String, fieldsDigest: String) -> Bool {
        metadata == Self.metadata(ofCommand: name, fieldsDigest: fieldsDigest) || metadata == Self.metadata(ofCommand: name)
    }

    /// How the metadata of command `name`'s events opens, whatever its fields.
    private static func metadataOpening(ofCommand name: String) -> [UInt8] {
        Array(#"{"command":"\#(name)""#.utf8)
    }

    private static func shown(_ metadata: [UInt8]) -> String {
        String(decoding: metadata.prefix(200), as: UTF8.self)
    }

    /// The time rules (a cut-off, a slot's start, one active appointment) judged again on the
    /// server's clock when the client dated the command (`BusinessClock.alsoJudgedAt`): each
    /// planned event, retimed, must pass its stream's rules too, on the streams' state as loaded
    /// now (the append still expects the versions the decision saw).
    private func judgeOnServerClock(_ plan: PlannedAppend, givenTime: Date) throws {
        guard let serverTime = clock.alsoJudgedAt(occurredAt: givenTime, serverNow: Date()) else { return }
        var states: [StreamName: Aggregate] = [:]
        for e in plan.events {
            guard let name = StreamName(parsing: e.stream), name.kind != .fingerprint else { continue }
            var state = try states[name] ?? store.load(name).aggregate
            try state.check(e.event.retimed(to: serverTime), rules: rules)
            state.apply(e.event)
            states[name] = state
        }
    }

    private func refuse(_ rejection: Rejection, fingerprint: Fingerprint?, at time: Date) -> ServerResponse {
        metrics.countRejection(rule: rejection.rule.rawValue)
        if let fingerprint { rejectedAttempts.record(fingerprint, rule: rejection.rule, at: Date()) }
        return AppendOutcome.rejection(rejection, eventIndex: nil)
    }

    /// Writes the evidence of refused bookings: minutes that ended, or all of it at shutdown.
    func flushEvidence(final: Bool) async {
        // A full buffer is written whole, the current minute included (a minute may then have
        // two events for one fingerprint and rule; their counts add up).
        let evidence = rejectedAttempts.drain(endedBefore: final || rejectedAttempts.isFull ? nil : Date())
        let dropped = rejectedAttempts.takeDropped()
        if dropped > 0 {
            logger.error("refused booking attempts not kept as evidence: the buffer was at its limit", metadata: ["attempts": "\(dropped)"])
        }
        guard !evidence.isEmpty else { return }
        // One event per fingerprint, minute and rule, in its fingerprint's stream.
        let events: [ProposedEvent] = evidence.map { e in
            ProposedEvent(stream: StreamName.fingerprint(e.fingerprint).description, type: BookingAttemptsRejected.typeName,
                          data: DomainEvent.bookingAttemptsRejected(e).encodedData(),
                          metadata: Array(#"{"command":"book","aggregated":true}"#.utf8))
        }
        var written = 0
        do {
            while written < events.count {
                let end = min(written + 1000, events.count)
                _ = try await journal.append(AppendRequest(events: Array(events[written..<end])))
                written = end
            }
            metrics.countEvidence(events: events.count)
            logger.info("recorded refused booking attempts", metadata: ["events": "\(events.count)", "attempts": "\(evidence.reduce(0) { $0 + $1.count })"])
        } catch {
            rejectedAttempts.restore(Array(evidence[written...]))
            logger.error("could not record refused booking attempts; kept for the next flush", metadata: ["error": "\(error)"])
        }
    }
}
