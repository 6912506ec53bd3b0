import Domain
import Foundation
import Journal
import Testing
@testable import Projections

/// A checkpoint file taken apart, to write it back with another state and a checksum recomputed
/// as `CheckpointWriter` computes it: what someone altering the file with care would produce.
struct CheckpointParts {
    var steps: [UInt8]
    var set: ProjectionSet
    var trailer: CheckpointFile.Trailer

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        trailer = try #require(bytes.suffix(CheckpointFile.trailerSize).withUnsafeBytes { CheckpointFile.decodeTrailer($0) }).0
        let stateStart = CheckpointFile.headerSize + Int(trailer.steps) * CheckpointFile.stepSize
        steps = Array(bytes[CheckpointFile.headerSize..<stateStart])
        let state = Array(bytes[stateStart..<(stateStart + Int(trailer.stateLength))])
        set = try state.withUnsafeBytes { try BinaryCoder.decode(ProjectionSet.self, from: $0) }
    }

    /// Writes the same header and trailer around `steps` (these unless given) and `state` (a
    /// `BinaryCoder` form), with the checksum of it all.
    func write(steps: [UInt8]? = nil, state: [UInt8], to path: String) throws {
        let steps = steps ?? self.steps
        var out = CheckpointFile.magic
        withUnsafeBytes(of: CheckpointFile.version.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(0)) { out.append(contentsOf: $0) }
        out += steps + state
        var sum = Checksum64()
        sum.update(out)
        var trailer = trailer
        trailer.steps = UInt64(steps.count / CheckpointFile.stepSize)
        trailer.stateLength = UInt64(state.count)
        out += CheckpointFile.encode(trailer) { head in
            sum.update(head)
            return sum.value
        }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    /// The state's form with `set` altered (its own counters are reachable; its projections are not,
    /// outside the module: see `replacing`).
    static func encode(_ set: ProjectionSet) throws -> [UInt8] {
        var out: [UInt8] = []
        try BinaryCoder.encode(set, into: &out)
        return out
    }

    /// The state's form with the form of one of its parts swapped for that of `new`: the part's
    /// bytes are found, once, inside the whole.
    static func replacing<Part: Encodable>(_ old: Part, with new: Part, in set: ProjectionSet) throws -> [UInt8] {
        var whole = try encode(set), before: [UInt8] = [], after: [UInt8] = []
        try BinaryCoder.encode(old, into: &before)
        try BinaryCoder.encode(new, into: &after)
        let found = (0...(whole.count - before.count)).filter { whole[$0] == before[0] && whole[$0..<($0 + before.count)].elementsEqual(before) }
        try #require(found.count == 1, "the part's form is found \(found.count) times in the state's")
        whole.replaceSubrange(found[0]..<(found[0] + before.count), with: after)
        return whole
    }
}

@Suite("Checkpoints: the state is checked before it is used")
struct CheckpointConsistencyTests {
    /// The combined history, a checkpoint taken after its last booking (the bot burst's
    /// cancellations, visits and no-shows come after it), and that checkpoint taken apart.
    struct Fixture {
        let dir = TemporaryDirectory("checkpoint-consistency")
        let journal: String
        let checkpoint: String
        let events: [RecordedEvent]
        let cut: Int
        let parts: CheckpointParts

        init() throws {
            journal = dir.path + "/journal"
            checkpoint = dir.path + "/state.ckpt"
            events = try combinedHistory().write(to: journal)
            cut = try #require(events.lastIndex { $0.type == "AppointmentBooked" }) + 1
            try #require(cut < events.count && events[cut - 1].endsAppend)
            _ = try ProjectionRebuild.export(journal: journal, to: dir.path + "/first", format: .csv, limit: .beforePosition(UInt64(cut)), checkpoint: checkpoint)
            parts = try CheckpointParts(path: checkpoint)
        }
    }

    /// One way to alter the state, and what the refusal must say.
    struct Alteration: CustomStringConvertible {
        var description: String
        var expected: String
        var state: (ProjectionSet) throws -> [UInt8]
    }

    static func alterations(_ f: Fixture) throws -> [Alteration] {
        let set = f.parts.set
        let botBooking = try #require(set.appointments.position(of: Sample.uuid(0xA00)))
        // Each alters one projection of the checkpoint's state and splices its form back in.
        func ledger(_ change: (inout AppointmentLedger) -> Void) -> (ProjectionSet) throws -> [UInt8] {
            var altered = set.appointments
            change(&altered)
            return { set in try CheckpointParts.replacing(set.appointments, with: altered, in: set) }
        }
        func slots(_ change: (inout SlotAvailability) -> Void) -> (ProjectionSet) throws -> [UInt8] {
            var altered = set.slotAvailability
            change(&altered)
            return { set in try CheckpointParts.replacing(set.slotAvailability, with: altered, in: set) }
        }
        func board(_ change: (inout DossierBoard) -> Void) -> (ProjectionSet) throws -> [UInt8] {
            var altered = set.dossierBoard
            change(&altered)
            return { set in try CheckpointParts.replacing(set.dossierBoard, with: altered, in: set) }
        }
        func abuse(_ change: (inout AbuseSignals) -> Void) -> (ProjectionSet) throws -> [UInt8] {
            var altered = set.abuseSignals
            change(&altered)
            return { set in try CheckpointParts.replacing(set.abuseSignals, with: altered, in: set) }
        }
        let slotCount = set.slotAvailability.slots.count, releaseCount = set.slotAvailability.releases.count
        try #require(releaseCount >= 2 && releaseCount <= 8 && set.appointments.count >= 2 && set.dossierBoard.dossiers.count >= 1)
        let bot = try #require(set.abuseSignals.position(of: HashKey(AbuseSignalsTests.bot)))
        // Every bucket of a 16-bucket index full: a lookup of a release not listed would never end.
        let releaseHashes = set.slotAvailability.releases.map { $0.id.fastHash }
        struct RawIndex: Encodable { var buckets: [UInt64]; var count: Int }
        let full = (0..<16).map { i in (releaseHashes[i % releaseCount] >> 32) << 32 | UInt64(i % releaseCount + 1) }
        let fullIndex = try JSONDecoder().decode(IndexTable.self, from: JSONEncoder().encode(RawIndex(buckets: full, count: releaseCount)))
        let student = set.dossierBoard.dossiers[0]

        return [
            // The review's case: the bot's first booking, cancelled after the cut, names a fingerprint
            // that does not exist; folding that cancellation trapped on `abuseSignals.clients[c]`.
            Alteration(description: "an appointment's client index set to 0x7fffffff",
                       expected: "appointment \(botBooking) names fingerprint 2147483647, but there are",
                       state: ledger { $0.appointments[Int(botBooking)].client = 0x7fff_ffff }),
            Alteration(description: "an appointment's slot index out of range", expected: "appointment 1 names slot \(slotCount + 3)",
                       state: ledger { $0.appointments[1].slot = Int32(slotCount + 3) }),
            Alteration(description: "two appointments swapped in their index (lookups would miss both)",
                       expected: "the appointment index: bucket", state: ledger { ledger in
                           var index = IndexTable()
                           for (p, a) in ledger.appointments.enumerated() { index.insert(a.id.fastHash, Int32(p < 2 ? 1 - p : p)) }
                           ledger.index = index
                       }),
            Alteration(description: "a slot naming a release that does not exist", expected: "slot 0 names release 99, but there are \(releaseCount) releases",
                       state: slots { $0.slots[0].release = 99 }),
            Alteration(description: "the slot index pointing past the slots", expected: "the slot index: bucket",
                       state: slots { s in
                           var index = IndexTable()
                           for (p, slot) in s.slots.enumerated() { index.insert(slot.ref.fastHash, p == 0 ? 1000 : Int32(p)) }
                           s.slotIndex = index
                       }),
            Alteration(description: "a release index with no empty bucket", expected: "the release index: its index has no empty bucket",
                       state: slots { $0.releaseIndex = fullIndex }),
            Alteration(description: "a release counting one slot more than it has", expected: "release 0 counts",
                       state: slots { $0.releases[0].slots += 1 }),
            Alteration(description: "a release counting one fingerprint more than booked into it", expected: "release 0 counts",
                       state: slots { $0.releases[0].distinctFingerprints += 1 }),
            Alteration(description: "a day of slots listing a slot that does not exist", expected: "the slots by day name slot 999",
                       state: slots { $0.byDay.update(at: 0) { $0.append(999) } }),
            Alteration(description: "a slot holding more places than appointments name it (its release agreeing)", expected: "slot 0 has",
                       state: slots { s in
                           s.slots[0].booked += 5
                           s.releases[Int(s.slots[0].release)].booked += 5
                       }),
            // The review's case: a held place shown as free, the release agreeing.
            Alteration(description: "a slot holding fewer places than its appointments hold (its release agreeing)", expected: "slot 0 has",
                       state: slots { s in
                           s.slots[0].booked -= 1
                           s.releases[Int(s.slots[0].release)].booked -= 1
                       }),
            Alteration(description: "a dossier count that is not the dossiers'", expected: "the dossier counts hold",
                       state: board { $0.countByGroup.update(at: 0) { $0 += 1 } }),
            Alteration(description: "a backlog change on a day past the year 9999 (its day number overflows)",
                       expected: "the backlog: its week key",
                       state: board { $0.backlogDeltas.update(day: Int32.max - 3, category: .student, default: .init()) { _ in } }),
            Alteration(description: "backlog changes that do not add up to the open dossiers", expected: "the backlog of \(student.category.rawValue) adds up to",
                       state: board { $0.backlogDeltas.update(day: CivilCalendar.day(ofMillis: student.submittedAt), category: student.category, default: .init()) { $0.open += 1 } }),
            Alteration(description: "a dossier's last event at a time no event can have", expected: "dossier 0: its last event time",
                       state: board { $0.dossiers[0].lastEventAt = .max }),
            Alteration(description: "a fingerprint counting a booking it did not make", expected: "fingerprint \(bot) counts 6 bookings, but its appointments make 5",
                       state: abuse { $0.clients[Int(bot)].bookings += 1 }),
            Alteration(description: "a counter one increment away from overflowing", expected: "fingerprint \(bot) counts 2147483647 service cancellations",
                       state: abuse { $0.clients[Int(bot)].cancelledByService = .max }),
            Alteration(description: "a release-and-fingerprint pair naming a release that does not exist", expected: "the fingerprints per release name release 2147483647",
                       state: abuse { $0.releaseClients.insert(UInt64(Int32.max) << 32 | UInt64(bot)) }),
            Alteration(description: "counts of events by type shorter than the catalogue",
                       expected: "it counts events of \(EventKind.allCases.count - 1) types",
                       state: { set in var s = set; s.kindCounts.removeLast(); return try CheckpointParts.encode(s) }),
            Alteration(description: "the delays' cached month not that of the cached day", expected: "the delays remember day",
                       state: { set in
                           var delays = set.delayStatistics
                           delays.lastMonth += 1
                           return try CheckpointParts.replacing(set.delayStatistics, with: delays, in: set)
                       }),
        ]
    }

    @Test("a checkpoint altered with a recomputed checksum is refused with the file and what is inconsistent, for every kind of reference")
    func alteredStatesAreRefused() throws {
        let f = try Fixture()
        #expect(f.parts.set.firstInconsistency() == nil)
        for alteration in try Self.alterations(f) {
            try f.parts.write(state: alteration.state(f.parts.set), to: f.checkpoint)
            do {
                let loaded = try CheckpointReader(path: f.checkpoint)
                Issue.record("\(alteration): loaded at position \(loaded.trailer.position)")
            } catch {
                guard case .checkpoint(let message) = error else { Issue.record("\(alteration): \(error)"); continue }
                #expect(message.hasPrefix("\(f.checkpoint) is damaged or not a checkpoint of `registre project`: its state is inconsistent: "), "\(alteration): \(message)")
                #expect(message.contains(alteration.expected), "\(alteration): \(message)")
                #expect(message.hasSuffix("; delete it to rebuild from zero"), "\(alteration): \(message)")
            }
        }
    }

    @Test("the reviewed checkpoint (an appointment's client set to 0x7fffffff) makes `registre project` exit 2 with the reason, and a rebuild without it works")
    func commandRefusesTheReviewedCheckpoint() throws {
        let f = try Fixture()
        let alteration = try #require(try Self.alterations(f).first)
        try f.parts.write(state: alteration.state(f.parts.set), to: f.checkpoint)
        let altered = try Data(contentsOf: URL(fileURLWithPath: f.checkpoint))
        let out = f.dir.path + "/refused"
        let run = try RegistreBinary.run(["project", "--journal", f.journal, "--out", out, "--checkpoint", f.checkpoint], in: f.dir.path)
        #expect(run.status == 2, "\(run.out)\(run.err)")
        #expect(run.err.contains("\(f.checkpoint) is damaged or not a checkpoint of `registre project`: its state is inconsistent: \(alteration.expected)"), "\(run.err)")
        #expect(!FileManager.default.fileExists(atPath: out), "no output for a refused checkpoint")
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.checkpoint)) == altered, "the refused checkpoint is kept")
        try FileManager.default.removeItem(atPath: f.checkpoint)
        let again = try RegistreBinary.run(["project", "--journal", f.journal, "--out", out, "--checkpoint", f.checkpoint], in: f.dir.path)
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("folded \(f.events.count) events (positions 0..<\(f.events.count))"), "\(again.out)")
    }

    @Test("a checkpoint whose dossier steps or last commit time contradict its state is refused, and the run writes no table")
    func stepsAndCommitTimeMustMatchTheState() throws {
        let f = try Fixture()
        let set = f.parts.set, state = try CheckpointParts.encode(f.parts.set)
        let size = CheckpointFile.stepSize, rows = f.parts.steps.count / size
        try #require(rows >= 3)
        func row(_ k: Int) -> Range<Int> { (k * size)..<((k + 1) * size) }
        var lastTime = state
        // The state's form begins with its position (8 bytes), then its last commit time (a presence byte and 8 bytes).
        lastTime.replaceSubrange(9..<17, with: withUnsafeBytes(of: (set.lastRecordedAtMicros! - 1_000_000).littleEndian) { Array($0) })
        var strangerStep = f.parts.steps
        strangerStep.replaceSubrange(row(1).prefix(16), with: withUnsafeBytes(of: Sample.uuid(0xBAD).uuid) { Array($0) })
        var swapped = f.parts.steps
        swapped.replaceSubrange(row(1), with: f.parts.steps[row(2)])
        swapped.replaceSubrange(row(2), with: f.parts.steps[row(1)])
        var lastStatus = f.parts.steps
        lastStatus[row(rows - 1).lowerBound + 41] ^= 1
        // A step's occurred-at time (bytes 42..<50) and commit time (50..<58), and its event kind (byte 40).
        func altered(_ k: Int, at field: Int, _ value: Int64) -> [UInt8] {
            var steps = f.parts.steps
            steps.replaceSubrange(row(k).lowerBound + field..<row(k).lowerBound + field + 8, with: withUnsafeBytes(of: value.littleEndian) { Array($0) })
            return steps
        }
        let recordedAt = { (k: Int) in f.parts.steps[row(k)].withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: 50, as: Int64.self)) } }
        var bookingStep = f.parts.steps
        bookingStep[row(1).lowerBound + 40] = EventKind.appointmentBooked.rawValue
        let cases: [(String, [UInt8]?, [UInt8], String)] = [
            ("a commit time one second earlier", nil, lastTime, "its state says the event at position \(f.cut - 1) was committed at"),
            ("one step fewer than the dossiers count", Array(f.parts.steps.dropLast(size)), state, "it holds \(rows - 1) dossier steps, but its dossiers count \(rows)"),
            ("a step of a dossier it does not hold", strangerStep, state, "its dossier steps contradict its state: the step at position"),
            ("two steps out of order", swapped, state, "is not after the one before it"),
            ("the last step in another state than the dossier's", lastStatus, state, "its dossier steps contradict its state: dossier"),
            ("a step that occurred at Int64.min ms", altered(1, at: 42, .min), state,
             "its dossier step at byte \(CheckpointFile.headerSize + size) is unreadable: its occurred-at time (\(Int64.min) ms) is not a time the catalogue can spell"),
            ("a step that occurred at 2e17 ms", altered(1, at: 42, 200_000_000_000_000_000), state,
             "is unreadable: its occurred-at time (200000000000000000 ms) is not a time the catalogue can spell"),
            ("a step of a booking", bookingStep, state, "is unreadable: its event kind \(EventKind.appointmentBooked.rawValue) is not a dossier event's"),
            ("a step committed before the one before it", altered(1, at: 50, recordedAt(0) - 1), state, "was committed at \(recordedAt(0) - 1) µs, before the step before it"),
            ("a step committed after the state's last event", altered(rows - 1, at: 50, set.lastRecordedAtMicros! + 1), state,
             "after the last event folded (\(set.lastRecordedAtMicros!) µs)"),
        ]
        for (what, steps, state, expected) in cases {
            try f.parts.write(steps: steps, state: state, to: f.checkpoint)
            let out = f.dir.path + "/refused-\(UUID().uuidString.prefix(6))"
            do {
                _ = try ProjectionRebuild.export(journal: f.journal, to: out, format: .csv, checkpoint: f.checkpoint)
                Issue.record("\(what): accepted")
            } catch {
                guard case .checkpoint(let message) = error else { Issue.record("\(what): \(error)"); continue }
                #expect(message.hasPrefix("\(f.checkpoint) is damaged or not a checkpoint of `registre project`: "), "\(what): \(message)")
                #expect(message.contains(expected) && message.hasSuffix("; delete it to rebuild from zero"), "\(what): \(message)")
            }
            #expect(!FileManager.default.fileExists(atPath: out), "\(what): no table written, and the output directory the run made is gone")
        }
        // A directory that was there before the refused run stays, empty.
        let existing = f.dir.path + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        #expect(throws: ProjectionError.self) { _ = try ProjectionRebuild.export(journal: f.journal, to: existing, format: .csv, checkpoint: f.checkpoint) }
        #expect(try filesIn(existing).isEmpty)
    }

    @Test("a checkpoint built with another implicit-rejection period is refused: the deadlines would not be a rebuild's")
    func otherImplicitRejectionPeriodIsRefused() throws {
        let f = try Fixture()
        var board = f.parts.set.dossierBoard
        board.implicitRejectionMonths = 5
        try f.parts.write(state: CheckpointParts.replacing(f.parts.set.dossierBoard, with: board, in: f.parts.set), to: f.checkpoint)
        #expect(throws: ProjectionError.checkpoint("\(f.checkpoint) was built with an implicit-rejection period of 5 months, not 4; rebuild without it")) {
            try ProjectionRebuild.export(journal: f.journal, to: f.dir.path + "/refused", format: .csv, checkpoint: f.checkpoint)
        }
        #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/refused"))
    }

    @Test("a genuine checkpoint passes the checks and resumes to the tables of a rebuild from zero")
    func genuineCheckpointResumes() throws {
        let f = try Fixture()
        let loaded = try CheckpointReader(path: f.checkpoint)
        #expect(loaded.set == f.parts.set)
        let resumed = try ProjectionRebuild.export(journal: f.journal, to: f.dir.path + "/resumed", format: .csv, checkpoint: f.checkpoint)
        #expect(resumed.resumedFrom == UInt64(f.cut))
        _ = try ProjectionRebuild.export(journal: f.journal, to: f.dir.path + "/zero", format: .csv)
        let zero = try filesIn(f.dir.path + "/zero")
        #expect(zero.count == ProjectionTables.all.count + 1)
        #expect(try filesIn(f.dir.path + "/resumed") == zero)
    }

    @Test("states folded from real histories are consistent wherever the fold stops, inside appends too")
    func foldedStatesAreConsistent() throws {
        let dir = TemporaryDirectory("consistent-states")
        let combined = dir.path + "/combined", generated = dir.path + "/generated"
        let events = try combinedHistory().write(to: combined)
        for cut in 0...events.count {
            let set = try ProjectionRebuild.rebuild(journal: combined, limit: .beforePosition(UInt64(cut)))
            #expect(set.firstInconsistency() == nil, "combined history cut at \(cut)")
        }
        var options = JournalOptions()
        options.durability = .relaxed
        options.log = { _ in }
        let journal = try Journal.open(directory: generated, options: options)
        var generator = HistoryGenerator(seed: 11)
        try generator.write(events: 4_000, to: journal)
        journal.close()
        let count = try JournalReader(directory: generated).read().count
        for cut in Array(stride(from: 0, to: count, by: 397)) + [count] {
            let set = try ProjectionRebuild.rebuild(journal: generated, limit: .beforePosition(UInt64(cut)))
            #expect(set.firstInconsistency() == nil, "generated history cut at \(cut)")
            if cut == count { #expect(set.abuseRanking().count > 0 && set.sizes.fingerprints > 0) }
        }
    }

    @Test("a state folded from a journal that broke every rule the projections count is consistent after every event")
    func ruleBreakingJournalIsConsistent() throws {
        let t0 = Sample.time("2024-09-03T09:00:00Z")
        func at(_ seconds: Double) -> Date { t0 + seconds }
        let slotA = Sample.uuid(0x5A), slotB = Sample.uuid(0x5B), unknownSlot = Sample.uuid(0x5F)
        let release = Sample.uuid(0x5E)
        let (a1, a2, a3, a4, a5, a6) = (Sample.uuid(0xA1), Sample.uuid(0xA2), Sample.uuid(0xA3), Sample.uuid(0xA4), Sample.uuid(0xA5), Sample.uuid(0xA6))
        let (d1, d2, d3, d4, d5) = (Sample.uuid(0xD1), Sample.uuid(0xD2), Sample.uuid(0xD3), Sample.uuid(0xD4), Sample.uuid(0xD5))
        let day = 86_400.0
        func book(_ id: UUID, _ slot: UUID, _ person: Int, _ fingerprint: Int, _ t: Double) -> DomainEvent {
            .appointmentBooked(AppointmentBooked(appointmentId: id, identityKey: Sample.identity(person), site: .grenoble, slotId: slot, motif: .filing,
                                                 category: .student, start: at(7 * day), fingerprint: Sample.fingerprint(fingerprint), occurredAt: at(t)))
        }
        func cancel(_ id: UUID, _ t: Double) -> DomainEvent {
            .appointmentCancelledByApplicant(AppointmentCancelledByApplicant(appointmentId: id, identityKey: Sample.identity(1), site: .grenoble, slotId: slotA, occurredAt: at(t)))
        }
        func reinstate(_ id: UUID, _ t: Double) -> DomainEvent {
            .appointmentReinstated(AppointmentReinstated(appointmentId: id, identityKey: Sample.identity(1), site: .grenoble, slotId: slotA, occurredAt: at(t)))
        }
        func reschedule(_ id: UUID, to slot: UUID, _ t: Double) -> DomainEvent {
            .appointmentRescheduled(AppointmentRescheduled(appointmentId: id, identityKey: Sample.identity(1), motif: .filing, fromSite: .grenoble, fromSlotId: slotA,
                                                           toSite: .grenoble, toSlotId: slot, toStart: at(8 * day), occurredAt: at(t)))
        }
        func submit(_ id: UUID, _ category: Domain.Category, _ time: String) -> DomainEvent {
            .dossierSubmitted(DossierSubmitted(dossierId: id, identityKey: Sample.identity(9), category: category, kind: .first, channel: .online, site: .grenoble,
                                               occurredAt: Sample.time(time)))
        }
        let events: [(DomainEvent, endsAppend: Bool)] = [
            (.slotPublished(Sample.publication(slotA, start: at(7 * day), capacity: 1, release: release, at: at(0))), true),
            (.slotPublished(Sample.publication(slotA, start: at(7 * day), capacity: 1, release: release, at: at(1))), true),     // published twice
            (.slotPublished(Sample.publication(slotB, start: at(8 * day), capacity: 2, release: release, at: at(2))), true),
            (.slotWithdrawn(SlotWithdrawn(slotId: unknownSlot, site: .grenoble, reason: .other, occurredAt: at(3))), true),       // unknown slot
            (book(a1, slotA, 1, 1, 4), true),
            (book(a2, slotA, 2, 2, 5), true),                                                                                      // overbooked
            (book(a1, slotB, 1, 1, 6), true),                                                                                      // booked twice
            (book(a3, unknownSlot, 3, 1, 7), true),                                                                                // slot never published
            (.slotWithdrawn(SlotWithdrawn(slotId: slotA, site: .grenoble, reason: .other, occurredAt: at(8))), true),
            (book(a4, slotA, 4, 3, 9), true),                                                                                      // into a withdrawn slot
            (cancel(a1, 10), true),
            (cancel(a1, 11), true),                                                                                                // not active
            (reinstate(a1, 12), true),
            (reinstate(a2, 13), true),                                                                                             // not cancelled
            (.appointmentCancelledByService(AppointmentCancelledByService(appointmentId: a2, identityKey: Sample.identity(2), site: .grenoble, slotId: slotA,
                                                                          reason: .fraud, occurredAt: at(14))), true),
            (.appointmentAttended(AppointmentAttended(appointmentId: a2, identityKey: Sample.identity(2), site: .grenoble, slotId: slotA,
                                                      identityMatched: true, occurredAt: at(15))), true),                          // attended once cancelled
            (reschedule(a6, to: slotB, 16), true),                                                                                 // unknown appointment
            (reschedule(a1, to: unknownSlot, 17), true),                                                                           // to a slot never published
            (.appointmentCancelledByService(AppointmentCancelledByService(appointmentId: a1, identityKey: Sample.identity(1), site: .grenoble, slotId: slotA,
                                                                          reason: .fraud, occurredAt: at(18))), true),
            (reinstate(a1, 19), true),
            (.identityMismatchAtCounter(IdentityMismatchAtCounter(appointmentId: a4, identityKey: Sample.identity(4), site: .grenoble, slotId: slotA,
                                                                  presentedIdentityKey: Sample.identity(40), occurredAt: at(20))), true),
            (.identityMismatchAtCounter(IdentityMismatchAtCounter(appointmentId: a4, identityKey: Sample.identity(4), site: .grenoble, slotId: slotA,
                                                                  presentedIdentityKey: Sample.identity(41), occurredAt: at(21))), true),
            (.appointmentNoShow(AppointmentNoShow(appointmentId: a6, identityKey: Sample.identity(6), site: .grenoble, slotId: slotA, occurredAt: at(22))), true),
            (book(a5, slotB, 1, 1, 23), false),                                                                                    // two copies in one append
            (book(a5, slotB, 1, 1, 23), true),
            (reschedule(a5, to: slotA, 24), true),                                                                                 // into a withdrawn slot
            (submit(d1, .student, "2024-09-03T10:00:00Z"), true),
            (submit(d1, .student, "2024-09-03T10:00:00Z"), true),                                                                  // submitted twice
            (.dossierWithdrawn(DossierWithdrawn(dossierId: d5, occurredAt: at(25))), true),                                       // unknown dossier
            (.dossierWithdrawn(DossierWithdrawn(dossierId: d1, occurredAt: at(26))), true),
            (.decisionRecorded(DecisionRecorded(dossierId: d1, outcome: .granted, occurredAt: at(27))), true),                    // reopened
            (.permitHandedOver(PermitHandedOver(dossierId: d1, site: .grenoble, occurredAt: at(28))), true),                      // ended again
            (submit(d2, .worker, "2024-09-04T10:00:00Z"), true),
            (.dossierDeclaredComplete(DossierDeclaredComplete(dossierId: d2, occurredAt: at(2 * day))), true),
            (.decisionRecorded(DecisionRecorded(dossierId: d2, outcome: .refused, occurredAt: at(3 * day))), true),
            (.permitAvailable(PermitAvailable(dossierId: d2, site: .grenoble, occurredAt: at(4 * day))), true),                  // after a refusal
            (submit(d3, .family, "2024-09-10T10:00:00Z"), true),
            (.dossierWithdrawn(DossierWithdrawn(dossierId: d3, occurredAt: Sample.time("2024-08-01T10:00:00Z"))), true),          // before its submission
            (submit(d4, .student, "0001-01-01T00:00:00Z"), true),
            (submit(d5, .student, "9999-12-31T23:59:59Z"), true),
            (.bookingAttemptsRejected(BookingAttemptsRejected(fingerprint: Sample.fingerprint(4), minute: at(60), rule: .slotCapacityExceeded, count: 7, occurredAt: at(61))), true),
            (.rateLimitTriggered(RateLimitTriggered(fingerprint: Sample.fingerprint(4), windowSeconds: 60, limit: 10, observed: 11, occurredAt: at(62))), true),
            (.rateLimitTriggered(RateLimitTriggered(fingerprint: Sample.fingerprint(4), windowSeconds: 60, limit: 10, observed: 12, occurredAt: at(63))), true),
            (.duplicateBookingDetected(DuplicateBookingDetected(fingerprint: Sample.fingerprint(1), identityKey: Sample.identity(1), motif: .filing,
                                                                existingAppointmentId: a1, occurredAt: at(64))), true),
            (.bookingFlagged(BookingFlagged(fingerprint: Sample.fingerprint(2), pattern: .manyIdentities, score: 2, evidenceEventIds: [], occurredAt: at(65))), true),
        ]
        var set = ProjectionSet()
        for (n, (event, endsAppend)) in events.enumerated() {
            try set.apply(event, stream: "stream-\(n)", id: Sample.uuid(0x1_0000 + n), position: UInt64(n), recordedAtMicros: Int64(n) * 1_000_000, endsAppend: endsAppend)
            #expect(set.firstInconsistency() == nil, "after event \(n)")
        }
        try set.apply(RecordedEvent(position: UInt64(events.count), stream: "x", version: 0, id: Sample.uuid(0xEE), type: "Probe", recordedAtMicros: 0,
                                    metadata: Array("{}".utf8), data: Array("{}".utf8), endsAppend: true))
        #expect(set.firstInconsistency() == nil, "after a foreign event")
        #expect(Set(set.anomalies().map(\.kind)) == Set(AnomalyKind.allCases).subtracting([.undecodableEvent]))
        // The state survives its checkpoint form and stays consistent.
        var bytes: [UInt8] = []
        try BinaryCoder.encode(set, into: &bytes)
        let back = try bytes.withUnsafeBytes { try BinaryCoder.decode(ProjectionSet.self, from: $0) }
        #expect(back == set && back.firstInconsistency() == nil)
    }
}
