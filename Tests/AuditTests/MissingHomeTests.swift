import Audit
import Domain
import Foundation
import Testing
@testable import Journal

/// The server refuses an event of several streams (a booking: its slot's and its applicant's; a
/// reschedule: both slots and the applicant's) unless one append writes it to every one of them
/// (`stream.missingHome`), because each stream guards a rule the others cannot see. The audit
/// must report such an event as the server names it, whichever rule shards its copies go to.
@Suite("Missing homes")
struct MissingHomeTests {
    /// Writes decisions into a journal, with the ids the server gives a booking's copies, and
    /// keeps each slot's and applicant's state from what was really written.
    final class Prefecture {
        let journal: Journal
        var slots: [UUID: SlotState] = [:]
        var applicants: [IdentityKey: ApplicantState] = [:]

        init(_ dir: TemporaryDirectory) throws {
            journal = try Journal.open(directory: dir.path, options: auditOptions(segmentSize: 20_000))
        }

        func close() { journal.close() }

        func slot(_ n: Int) -> SlotState { slots[History.uuid(n)]! }

        func applicant(_ n: Int) -> ApplicantState {
            let key = IdentityKey(History.hash(0x5000 + n))
            return applicants[key] ?? ApplicantState(identityKey: key)
        }

        @discardableResult
        func publish(_ n: Int, capacity: Int, startingInDays days: Double = 7) throws -> SlotState {
            let publication = SlotPublished(slotId: History.uuid(n), site: .grenoble, motif: .filing, category: .student,
                                            start: History.release.addingTimeInterval(days * 86_400), durationMinutes: 20,
                                            counter: "guichet 2", capacity: capacity, releaseId: History.uuid(0x9000), occurredAt: History.release)
            try append(try Decide.publish(publication, onto: SlotState(site: .grenoble, slotId: publication.slotId)))
            return slot(n)
        }

        /// `plan` as one append, keeping only its events in the streams `keep` accepts.
        func request(_ plan: PlannedAppend, keep: (StreamName) -> Bool = { _ in true }) -> AppendRequest {
            AppendRequest(events: plan.events.compactMap { planned in
                let stream = StreamName(parsing: planned.stream)!
                guard keep(stream) else { return nil }
                return ProposedEvent(stream: planned.stream, type: planned.event.typeName, id: planned.event.requiredEventID(in: stream) ?? UUID(),
                                     data: planned.data)
            })
        }

        @discardableResult
        func append(_ plan: PlannedAppend, keep: (StreamName) -> Bool = { _ in true }) throws -> AppendResult {
            let request = request(plan, keep: keep)
            let result = try journal.appendAndWait(request)
            apply(request)
            return result
        }

        /// Appends committed together in one frame, as the writer packs concurrent clients' appends.
        func appendInOneFrame(_ requests: [AppendRequest]) throws -> [AppendResult] {
            let prepared = try requests.map { try PreparedAppend($0, limits: journal.options.limits) }
            let results = Results()
            // The writer's role is free between the test's appends, or about to be (a writer
            // thread gives it back after answering): committing without it would make two writers.
            var claimed = journal.queue.claimIfIdle()
            for _ in 0..<2_000 where !claimed {
                usleep(1_000)
                claimed = journal.queue.claimIfIdle()
            }
            try #require(claimed, "the writer's role was not given back within two seconds")
            journal.writer.commit(prepared.map { p in AppendQueue.Item(append: p, completion: { results.add($0) }) })
            for r in requests { apply(r) }
            return try results.all.map { try $0.get() }
        }

        private func apply(_ request: AppendRequest) {
            for e in request.events {
                let event = try! DomainEvent.decode(type: e.type, data: e.data, eventIndex: 0)
                switch StreamName(parsing: e.stream)! {
                case .slot(let site, let id): slots[id, default: SlotState(site: site, slotId: id)].apply(event)
                case .applicant(let key): applicants[key, default: ApplicantState(identityKey: key)].apply(event)
                case .dossier, .fingerprint: break
                }
            }
        }

        final class Results: @unchecked Sendable {
            private let lock = NSLock()
            private var results: [Result<AppendResult, JournalError>] = []
            func add(_ r: Result<AppendResult, JournalError>) { lock.withLock { results.append(r) } }
            var all: [Result<AppendResult, JournalError>] { lock.withLock { results } }
        }
    }

    static func audit(_ dir: TemporaryDirectory, shards: Int = 2) throws -> AuditReport {
        var options = AuditOptions()
        options.publicKey = testSigner.publicKey
        options.ruleShards = shards
        return try Auditor.audit(directory: dir.path, options: options)
    }

    static func isSlot(_ s: StreamName) -> Bool { s.kind == .slot }
    static func isApplicant(_ s: StreamName) -> Bool { s.kind == .applicant }

    /// Slot 1 with two places, both booked, and a third booking of it: the decision would refuse
    /// it on the full slot, so it is made on the slot as it was before it filled.
    static func fullSlotAndAThirdBooking(_ dir: TemporaryDirectory) throws -> (Prefecture, PlannedAppend) {
        let prefecture = try Prefecture(dir)
        try prefecture.publish(1, capacity: 2)
        for n in 1...2 {
            try prefecture.append(try Decide.book(History.uuid(0xA00 + n), in: prefecture.slot(1), for: prefecture.applicant(n),
                                                  from: Fingerprint(History.hash(1)), at: History.release))
        }
        let plan = try Decide.book(History.uuid(0xA03), in: SlotState(site: .grenoble, slotId: History.uuid(1)).publishedForTest(capacity: 2),
                                   for: prefecture.applicant(3), from: Fingerprint(History.hash(1)), at: History.release)
        return (prefecture, plan)
    }

    /// Slots 1 and 2 with `capacity` places each.
    static func twoSlots(_ dir: TemporaryDirectory, capacity: Int) throws -> Prefecture {
        let prefecture = try Prefecture(dir)
        try prefecture.publish(1, capacity: capacity)
        try prefecture.publish(2, capacity: capacity)
        return prefecture
    }

    /// Slots 1 and 2 with `capacity` places each, and applicant 1 booked in slot 1 under `appointment`.
    static func twoSlotsAndABooking(_ dir: TemporaryDirectory, capacity: Int, appointment: UUID) throws -> Prefecture {
        let prefecture = try twoSlots(dir, capacity: capacity)
        try prefecture.append(try Decide.book(appointment, in: prefecture.slot(1), for: prefecture.applicant(1),
                                              from: Fingerprint(History.hash(1)), at: History.release))
        return prefecture
    }

    /// What the server answers for the same events sent as one append: the finding must say the same.
    static func serverMessage(_ request: AppendRequest) -> String? {
        validateAppend(request.events.map { (stream: $0.stream, type: $0.type, data: $0.data) }).first?.message
    }

    @Test("a booking of a full slot written only to the applicant's stream is reported as stream.missingHome, and the audit is not clean")
    func bookingInTheApplicantStreamOnly() throws {
        let dir = TemporaryDirectory("home-applicant-only")
        // Written to the applicant's stream alone, whose rules the third booking passes.
        let (prefecture, plan) = try Self.fullSlotAndAThirdBooking(dir)
        let lone = prefecture.request(plan, keep: Self.isApplicant)
        let written = try prefecture.append(plan, keep: Self.isApplicant)
        prefecture.close()

        let report = try Self.audit(dir)
        #expect(!report.isClean)
        #expect(report.findings.map(\.rule) == ["stream.missingHome"], "\(report.findings)")
        let finding = try #require(report.findings.first)
        #expect(finding.position == written.firstPosition)
        #expect(finding.eventID == AppointmentBooked.eventID(appointmentId: History.uuid(0xA03), in: .applicant(prefecture.applicant(3).identityKey)))
        #expect(finding.file == dir.segments.last && finding.offset != nil)
        let applicant = StreamName.applicant(prefecture.applicant(3).identityKey), slot = StreamName.slot(site: .grenoble, slotId: History.uuid(1))
        #expect(finding.message == "AppointmentBooked in stream '\(applicant)': \(try #require(Self.serverMessage(lone)))")
        #expect(finding.message.hasSuffix("this one is missing from \(slot)"), "\(finding.message)")
    }

    @Test("the same booking written to both streams is reported by the slot's own rule, slot.capacityExceeded, and not as a missing home")
    func bookingOfAFullSlotInBothStreams() throws {
        let dir = TemporaryDirectory("home-both-full")
        let (prefecture, plan) = try Self.fullSlotAndAThirdBooking(dir)
        try prefecture.append(plan)
        prefecture.close()
        #expect(try Self.audit(dir).findings.map(\.rule) == ["slot.capacityExceeded"])
    }

    @Test("a booking written only to the slot's stream is reported, so it cannot get around one active appointment per motif")
    func bookingInTheSlotStreamOnly() throws {
        let dir = TemporaryDirectory("home-slot-only")
        let prefecture = try Self.twoSlotsAndABooking(dir, capacity: 4, appointment: History.uuid(0xB01))
        // The applicant already holds a filing appointment; a second one, for the same motif, is
        // written where only the slot's capacity would see it.
        let plan = try Decide.book(History.uuid(0xB02), in: prefecture.slot(2), for: ApplicantState(identityKey: prefecture.applicant(1).identityKey),
                                   from: Fingerprint(History.hash(1)), at: History.release)
        let written = try prefecture.append(plan, keep: Self.isSlot)
        prefecture.close()

        let report = try Self.audit(dir)
        #expect(!report.isClean)
        #expect(report.findings.map(\.rule) == ["stream.missingHome"], "\(report.findings)")
        #expect(report.findings.first?.position == written.firstPosition)
        #expect(report.findings.first?.message.hasSuffix("this one is missing from \(StreamName.applicant(prefecture.applicant(1).identityKey))") == true)
    }

    @Test("genuine bookings, a cancellation, a reinstatement and a reschedule, each written to all of its streams, leave the audit clean with one, two or three shards")
    func genuineAppendsAreClean() throws {
        let dir = TemporaryDirectory("home-genuine")
        let prefecture = try Self.twoSlots(dir, capacity: 2)
        for n in 1...2 {
            try prefecture.append(try Decide.book(History.uuid(0xC00 + n), in: prefecture.slot(1), for: prefecture.applicant(n),
                                                  from: Fingerprint(History.hash(1)), at: History.release))
        }
        try prefecture.append(try Decide.cancelByApplicant(History.uuid(0xC02), of: prefecture.applicant(2), in: prefecture.slot(1),
                                                           at: History.release.addingTimeInterval(60)))
        try prefecture.append(try Decide.reinstate(History.uuid(0xC02), of: prefecture.applicant(2), in: prefecture.slot(1),
                                                   at: History.release.addingTimeInterval(120)))
        try prefecture.append(try Decide.reschedule(History.uuid(0xC01), of: prefecture.applicant(1), from: prefecture.slot(1), to: prefecture.slot(2),
                                                    at: History.release.addingTimeInterval(180)))
        // Two bookings in one frame, each a whole append.
        let a = try Decide.book(History.uuid(0xC03), in: prefecture.slot(1), for: prefecture.applicant(3), from: Fingerprint(History.hash(1)), at: History.release.addingTimeInterval(240))
        let b = try Decide.book(History.uuid(0xC04), in: prefecture.slot(2), for: prefecture.applicant(4), from: Fingerprint(History.hash(1)), at: History.release.addingTimeInterval(240))
        let packed = try prefecture.appendInOneFrame([prefecture.request(a), prefecture.request(b)])
        #expect(packed.count == 2)
        prefecture.close()

        // With two shards the slots' streams go one to each (each new stream to the least loaded
        // shard) and the applicants' join the first slot's, so the reschedule's copies, in both
        // slots and the applicant's stream, are judged from two shards' lists.
        for shards in 1...3 {
            let report = try Self.audit(dir, shards: shards)
            #expect(report.findings == [], "\(shards) shards: \(report.findings)")
            #expect(report.isClean)
        }
    }

    /// The server compares decoded events, in any order within the append: so does the audit,
    /// beyond the common case of consecutive copies with the same bytes.
    @Test("copies interleaved with another booking's, or whose bytes differ but decode to the same event, are not reported")
    func interleavedAndDifferentlySpelledCopies() throws {
        let dir = TemporaryDirectory("home-interleaved")
        let prefecture = try Self.twoSlots(dir, capacity: 4)
        let a = try Decide.book(History.uuid(0xF01), in: prefecture.slot(1), for: prefecture.applicant(1), from: Fingerprint(History.hash(1)), at: History.release)
        let b = try Decide.book(History.uuid(0xF02), in: prefecture.slot(2), for: prefecture.applicant(2), from: Fingerprint(History.hash(1)), at: History.release)
        var interleaved = prefecture.request(a)
        interleaved.events.insert(contentsOf: prefecture.request(b).events, at: 1)
        // B's applicant copy spelled with spaces: other bytes, the same event.
        interleaved.events[2].data = Array(" ".utf8) + interleaved.events[2].data
        #expect(interleaved.events.map(\.stream) == [a.events[0].stream, b.events[0].stream, b.events[1].stream, a.events[1].stream])
        #expect(validateAppend(interleaved.events.map { (stream: $0.stream, type: $0.type, data: $0.data) }) == [], "the server takes it")
        _ = try prefecture.journal.appendAndWait(interleaved)
        prefecture.close()

        for shards in 1...2 {
            let report = try Self.audit(dir, shards: shards)
            #expect(report.findings == [], "\(shards) shards: \(report.findings)")
        }
    }

    @Test("a booking written twice to the slot's stream, as many copies as it has streams, is still missing from the applicant's")
    func twoCopiesInOneStream() throws {
        let dir = TemporaryDirectory("home-twice")
        let prefecture = try Prefecture(dir)
        try prefecture.publish(1, capacity: 4)
        let plan = try Decide.book(History.uuid(0xF11), in: prefecture.slot(1), for: prefecture.applicant(1), from: Fingerprint(History.hash(1)), at: History.release)
        let copy = plan.events[0]
        let twice = try prefecture.journal.appendAndWait(AppendRequest(events: [
            ProposedEvent(stream: copy.stream, type: copy.event.typeName, id: UUID(), data: copy.data),
            ProposedEvent(stream: copy.stream, type: copy.event.typeName, id: UUID(), data: copy.data),
        ]))
        prefecture.close()
        let report = try Self.audit(dir)
        #expect(report.findings.filter { $0.rule == "stream.missingHome" }.map(\.position) == [twice.firstPosition, twice.lastPosition], "\(report.findings)")
    }

    @Test("a reschedule that skips its new slot is reported at both copies it has, naming the slot it is missing from")
    func rescheduleSkippingItsNewSlot() throws {
        let dir = TemporaryDirectory("home-reschedule")
        let prefecture = try Self.twoSlotsAndABooking(dir, capacity: 2, appointment: History.uuid(0xD01))
        let target = StreamName.slot(site: .grenoble, slotId: History.uuid(2))
        let plan = try Decide.reschedule(History.uuid(0xD01), of: prefecture.applicant(1), from: prefecture.slot(1), to: prefecture.slot(2),
                                         at: History.release.addingTimeInterval(60))
        let written = try prefecture.append(plan, keep: { $0 != target })
        prefecture.close()

        let report = try Self.audit(dir)
        #expect(report.findings.map(\.rule) == ["stream.missingHome", "stream.missingHome"], "\(report.findings)")
        #expect(report.findings.map(\.position) == [written.firstPosition, written.firstPosition + 1])
        #expect(report.findings.allSatisfy { $0.message.hasSuffix("this one is missing from \(target)") }, "\(report.findings)")
    }

    /// The copies must be in the same append, not merely somewhere in the journal or in the same frame.
    @Test("a booking's two copies written in two appends are both reported, in separate frames and in one frame")
    func copiesInTwoAppends() throws {
        let dir = TemporaryDirectory("home-two-appends")
        let prefecture = try Prefecture(dir)
        try prefecture.publish(1, capacity: 4)
        let first = try Decide.book(History.uuid(0xE01), in: prefecture.slot(1), for: prefecture.applicant(1), from: Fingerprint(History.hash(1)), at: History.release)
        let inSlot = try prefecture.append(first, keep: Self.isSlot)
        let inApplicant = try prefecture.append(first, keep: Self.isApplicant)
        let second = try Decide.book(History.uuid(0xE02), in: prefecture.slot(1), for: prefecture.applicant(2), from: Fingerprint(History.hash(1)), at: History.release)
        let packed = try prefecture.appendInOneFrame([prefecture.request(second, keep: Self.isSlot), prefecture.request(second, keep: Self.isApplicant)])
        prefecture.close()
        #expect(frameOffsets(ofSegment: dir.file(dir.segments.last!)).count == 4, "the second booking's two appends share a frame")

        for shards in 1...3 {
            let report = try Self.audit(dir, shards: shards)
            #expect(report.findings.map(\.rule) == Array(repeating: "stream.missingHome", count: 4), "\(shards) shards: \(report.findings)")
            #expect(report.findings.map(\.position) == [inSlot.firstPosition, inApplicant.firstPosition] + packed.map(\.firstPosition))
        }
    }
}

extension SlotState {
    /// This slot published as a filing slot for students with `capacity` places, a week after the release.
    func publishedForTest(capacity: Int) -> SlotState {
        var s = self
        s.apply(.slotPublished(SlotPublished(slotId: slotId, site: site, motif: .filing, category: .student, start: History.release.addingTimeInterval(7 * 86_400),
                                             durationMinutes: 20, counter: "guichet 2", capacity: capacity, releaseId: History.uuid(0x9000), occurredAt: History.release)))
        return s
    }
}
