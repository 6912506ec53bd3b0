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

    /// Runs `decide` until its append commits, a rule refuses it, or the attempts run out, and
    /// calls `done` exactly once. Decisions run on the calling thread and, after a conflict, at
    /// `resume`; the append waits for its group commit without holding a thread.
    /// `evidenceFrom` names the client fingerprint whose refused attempts are kept as evidence.
    /// `writes` names the streams the command will append to and, when the input already says
    /// it, the event types: a peer without a grant for them is refused before any state is read,
    /// so it learns nothing from the rules' verdicts and leaves no evidence in anyone's name.
    /// (The events decided are checked again, exactly, before they are appended.)
    /// `sentBefore` names the events, by id and stream, that the command writes when their ids
    /// are fixed in advance (a booking with its appointment id): when all of them are committed
    /// there, the command was sent before and its answer lost, and it gets the original result.
    /// The rules, which would now refuse the very events that are in, are not asked again, so a
    /// client retrying after a timeout is not recorded as a refused attempt.
    /// `command`, the client's name for this command, fixes the ids of the events it appends
    /// (`CommandEventID`): sent again after a lost answer, the command finds them committed and
    /// gets the original result, without being decided again. Its events carry the digest of its
    /// fields, so the same name sent with other fields is refused rather than answered as a retry.
    func run(_ name: String, at time: Date, permissions: Permissions, writes: [(stream: StreamName, types: Set<String>?)],
             evidenceFrom fingerprint: Fingerprint? = nil, sentBefore: [(id: UUID, stream: String)] = [], command: CommandKey? = nil,
             extra: @escaping @Sendable (inout JSONBuilder) -> Void = { _ in }, resume: ResumePoint,
             done: @escaping @Sendable (ServerResponse) -> Void,
             decide: @escaping @Sendable (Aggregates) throws -> PlannedAppend) {
        for (stream, types) in writes {
            if let reason = permissions.appendRefusal(stream: stream.description, anyOf: types) {
                return done(.error(.forbidden, "forbidden", reason))
            }
        }
        if let original = originalResult(ofEvents: sentBefore) {
            AppendService(journal: journal, store: store, metrics: metrics, clock: clock, rules: rules, attempts: attempts)
                .recordSuccess(original, events: sentBefore.count, since: .now)
            return done(AppendOutcome.success(original, extra: extra))
        }
        if let command {
            switch replay(ofCommand: command, named: name) {
            case .new:
                break
            case .committed(let original, let events):
                AppendService(journal: journal, store: store, metrics: metrics, clock: clock, rules: rules, attempts: attempts)
                    .recordSuccess(original, events: events, since: .now)
                return done(AppendOutcome.success(original, extra: extra))
            case .anotherCommand(let metadata):
                return done(.error(.conflict, "commandIdReused",
                                   "commandId \(command.id.canonicalString) already names another command, whose events carry the metadata \(metadata); a command id names one command: use a new one"))
            case .otherFields(let metadata):
                return done(.error(.conflict, "commandIdReused",
                                   "commandId \(command.id.canonicalString) was sent before with other fields (its events carry the metadata \(metadata), this send's fields digest is \(command.fieldsDigest)); a retry sends the same fields, a new intention a new command id"))
            }
        }
        do { try clock.check(occurredAt: time, serverNow: Date()) } catch {
            return done(refuse(error, fingerprint: fingerprint, at: time))
        }
        attempt(1, name, at: time, permissions: permissions, evidenceFrom: fingerprint, command: command, extra: extra, resume: resume, done: done, decide: decide)
    }

    private func attempt(_ attempt: Int, _ name: String, at time: Date, permissions: Permissions, evidenceFrom fingerprint: Fingerprint?,
                         command: CommandKey?, extra: @escaping @Sendable (inout JSONBuilder) -> Void, resume: ResumePoint,
                         done: @escaping @Sendable (ServerResponse) -> Void,
                         decide: @escaping @Sendable (Aggregates) throws -> PlannedAppend) {
        let attempts = max(1, self.attempts)
        let plan: PlannedAppend
        do {
            plan = try decide(Aggregates(store: store))
        } catch let rejection as Rejection {
            return done(refuse(rejection, fingerprint: fingerprint, at: time))
        } catch let error as JournalError {
            return done(AppendOutcome.journalError(error))
        } catch {
            return done(.error(.internalServerError, "internal", "\(error)"))
        }
        for e in plan.events {
            if let reason = permissions.appendRefusal(stream: e.stream, type: e.event.typeName) {
                return done(.error(.forbidden, "forbidden", reason))
            }
        }
        let metadata = Self.metadata(ofCommand: name, fieldsDigest: command?.fieldsDigest)
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
        resume.append(request, to: journal) { result in
            switch result {
            case .success(let result):
                AppendService(journal: journal, store: store, metrics: metrics, clock: clock, rules: rules, attempts: attempts)
                    .recordSuccess(result, events: events, since: started)
                done(AppendOutcome.success(result, extra: extra))
            case .failure(.wrongExpectedVersion(let conflicts)):
                metrics.versionConflicts.increment()
                if attempt >= attempts {
                    done(AppendOutcome.conflict(conflicts, message: "the aggregates kept changing during \(attempts) attempts; retry"))
                } else {
                    self.attempt(attempt + 1, name, at: time, permissions: permissions, evidenceFrom: fingerprint, command: command, extra: extra,
                                 resume: resume, done: done, decide: decide)
                }
            case .failure(let error):
                done(AppendOutcome.journalError(error, in: request))
            }
        }
    }

    /// The result the journal gave when these events were appended, if every one of them is
    /// committed in the stream named; nil when any is missing or in another stream (a new
    /// command, or an id reused: deciding and appending answer those as the first time).
    func originalResult(ofEvents events: [(id: UUID, stream: String)]) -> AppendResult? {
        var committed: [RecordedEvent] = []
        for (id, stream) in events {
            guard let e = try? journal.event(id: id), e.stream == stream else { return nil }
            committed.append(e)
        }
        return committed.isEmpty ? nil : Self.result(ofCommitted: committed)
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

    enum CommandReplay {
        case new
        /// The command's events are in: its original result, and how many events it wrote.
        case committed(AppendResult, events: Int)
        /// Events under this command id were written by another command (their metadata).
        case anotherCommand(String)
        /// Events under this command id were written by this command with other fields.
        case otherFields(String)
    }

    /// Whether the command named `command` was appended before: its events are found under
    /// their derived ids, in order, until one is missing (a command writes a handful). Events
    /// without a digest of fields (a journal written before digests were kept) match by name.
    func replay(ofCommand command: CommandKey, named name: String) -> CommandReplay {
        var events: [RecordedEvent] = []
        while events.count < 64, let e = try? journal.event(id: CommandEventID.eventID(commandId: command.id, index: events.count)) {
            events.append(e)
        }
        guard let first = events.first else { return .new }
        let same = Self.metadata(ofCommand: name, fieldsDigest: command.fieldsDigest), undigested = Self.metadata(ofCommand: name)
        let shown = String(decoding: first.metadata.prefix(200), as: UTF8.self)
        if events.allSatisfy({ $0.metadata == same || $0.metadata == undigested }) {
            return .committed(Self.result(ofCommitted: events), events: events.count)
        }
        // The same command by name (its metadata opens with it) but not the same fields.
        let named = Array(#"{"command":"\#(name)","#.utf8)
        return events.allSatisfy({ $0.metadata.starts(with: named) }) ? .otherFields(shown) : .anotherCommand(shown)
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
