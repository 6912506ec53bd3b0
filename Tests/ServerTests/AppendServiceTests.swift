import Domain
import Foundation
import Journal
import Logging
import Synchronization
import Testing
@testable import Server

/// The rule-checked append against a real journal, without HTTP.
@Suite struct AppendServiceTests {
    final class Harness: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "registre-server-\(UUID().uuidString.prefix(8))"
        let journal: Journal
        let service: AppendService
        let start = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 / 3600).rounded(.down) + 48) * 3600)

        /// The evidence buffer `service` counts refused bookings in.
        let rejected = RejectedAttempts()

        init(clock: (@Sendable () -> Int64)? = nil) throws {
            var options = JournalOptions()
            options.log = { _ in }
            if let clock { options.clock = clock }
            journal = try Journal.open(directory: directory, options: options)
            service = AppendService(journal: journal, store: AggregateStore(journal: journal), metrics: ServerMetrics(),
                                    clock: BusinessClock(), rules: .standard, attempts: 4, rejectedAttempts: rejected)
        }

        deinit {
            journal.close()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func iso(_ d: Date) -> String { UTCTime.string(d) }
        var now: String { iso(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))) }

        func publish(_ slot: String, capacity: Int, start: Date? = nil) -> String {
            #"{"stream":"slot-grenoble-\#(slot)","type":"SlotPublished","data":{"schemaVersion":1,"slotId":"\#(slot)","site":"grenoble","motif":"filing","category":"student","start":"\#(iso(start ?? self.start))","durationMinutes":15,"counter":"guichet 1","capacity":\#(capacity),"releaseId":"\#(UUID().uuidString.lowercased())","occurredAt":"\#(now)"}}"#
        }

        /// `id` and `applicantID`: the ids sent with the slot's and the applicant's copies (none when nil).
        func booked(_ slot: String, identity: String, appointment: String = UUID().uuidString.lowercased(), id: String? = nil,
                    applicantID: String? = nil, occurredAt: String? = nil) -> [String] {
            let data = #"{"schemaVersion":1,"appointmentId":"\#(appointment)","identityKey":"\#(identity)","site":"grenoble","slotId":"\#(slot)","motif":"filing","category":"student","start":"\#(iso(start))","fingerprint":"\#(String(repeating: "f", count: 64))","occurredAt":"\#(occurredAt ?? now)"}"#
            let idField = id.map { #","id":"\#($0)""# } ?? ""
            let applicantIDField = applicantID.map { #","id":"\#($0)""# } ?? ""
            return [#"{"stream":"slot-grenoble-\#(slot)","type":"AppointmentBooked","data":\#(data)\#(idField)}"#,
                    #"{"stream":"applicant-\#(identity)","type":"AppointmentBooked","data":\#(data)\#(applicantIDField)}"#]
        }

        /// The ids a booking's two copies must carry (`AppointmentBooked.eventID`).
        func bookingIDs(_ slot: String, identity: String, appointment: String) -> (slot: String, applicant: String) {
            let a = UUID(uuidString: appointment)!
            let s = AppointmentBooked.eventID(appointmentId: a, in: StreamName(parsing: "slot-grenoble-\(slot)")!)!
            let p = AppointmentBooked.eventID(appointmentId: a, in: StreamName(parsing: "applicant-\(identity)")!)!
            return (s.uuidString.lowercased(), p.uuidString.lowercased())
        }

        func append(_ events: [String], expected: String = "{}", permissions: Permissions = .everything) async throws -> (status: UInt, body: [String: Any]) {
            let body = Array(#"{"events":[\#(events.joined(separator: ","))],"expectedVersions":\#(expected)}"#.utf8)
            let parsed: AppendBody
            switch AppendBody.parse(body) {
            case .success(let b): parsed = b
            case .failure(let problems): return (400, ["problems": problems.map(\.field)])
            }
            let r = await service.append(parsed, permissions: permissions)
            return (r.status.code, (try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:])
        }
    }

    let alice = String(repeating: "a", count: 64)
    let bob = String(repeating: "b", count: 64)

    @Test func theLastPlaceGoesToOneBookingAndTheNextNamesTheRuleAndEvent() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        #expect(try await h.append([h.publish(slot, capacity: 1)]).status == 200)
        let first = try await h.append(h.booked(slot, identity: alice))
        #expect(first.status == 200, "\(first.body)")
        #expect((first.body["versions"] as? [String: Int]) == ["slot-grenoble-\(slot)": 1, "applicant-\(alice)": 0])

        let second = try await h.append(h.booked(slot, identity: bob))
        #expect(second.status == 422)
        #expect(second.body["rule"] as? String == "slot.capacityExceeded")
        #expect(second.body["eventIndex"] as? Int == 0)
        #expect(h.journal.endPosition == 3)
        // Refused through /append as through /commands/book: on the record as evidence.
        let evidence = h.rejected.drain(endedBefore: nil)
        #expect(evidence.map(\.rule) == [.slotCapacityExceeded], "\(evidence)")
        #expect(evidence.map(\.count) == [1])
        #expect(evidence.map(\.fingerprint.description) == [String(repeating: "f", count: 64)])
    }

    /// An id committed in another stream is a conflict; the answer names that stream only to a
    /// peer that may read it (a booking's id is derived from its appointment id, so the name would
    /// tell an appender without read whose appointment it is).
    @Test func aConflictOnAnIdNamesItsOtherStreamOnlyToAPeerThatMayRead() async throws {
        let h = try Harness()
        let id = UUID().uuidString.lowercased()
        #expect(try await h.append([#"{"stream":"ops-secret-holder","type":"Noted","id":"\#(id)","data":{}}"#]).status == 200)
        let probe = [#"{"stream":"ops-probe","type":"Noted","id":"\#(id)","data":{}}"#]
        let appender = Permissions(canRead: false, appendScopes: [AppendScope()])
        let blind = try await h.append(probe, permissions: appender)
        #expect(blind.status == 409, "\(blind.body)")
        let blindMessage = blind.body["message"] as? String ?? ""
        #expect(!blindMessage.contains("ops-secret-holder") && blindMessage.contains("another stream"), "\(blindMessage)")
        let reader = try await h.append(probe, permissions: .everything)
        #expect(reader.status == 409)
        #expect((reader.body["message"] as? String)?.contains("ops-secret-holder") == true, "\(reader.body)")
    }

    @Test func oneIdentityCannotHoldTwoActiveAppointmentsForOneMotif() async throws {
        let h = try Harness()
        let s1 = UUID().uuidString.lowercased(), s2 = UUID().uuidString.lowercased()
        #expect(try await h.append([h.publish(s1, capacity: 3), h.publish(s2, capacity: 3)]).status == 200)
        #expect(try await h.append(h.booked(s1, identity: alice)).status == 200)
        let again = try await h.append(h.booked(s2, identity: alice))
        #expect(again.status == 422)
        #expect(again.body["rule"] as? String == "applicant.oneActiveAppointmentPerMotif")
        #expect(again.body["eventIndex"] as? Int == 1)
    }

    /// A booking written to one of its two streams would meet only that stream's rule: the slot
    /// would be overbooked through the applicant's stream, and a second appointment per motif
    /// slipped in through the slot's. Both are refused, and nothing is written.
    @Test func aBookingInOnlyOneOfItsStreamsIsRefusedAndNothingIsWritten() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        #expect(try await h.append([h.publish(slot, capacity: 1)]).status == 200)
        #expect(try await h.append(h.booked(slot, identity: alice)).status == 200)
        let before = h.journal.endPosition
        for half in h.booked(slot, identity: bob) {
            let refused = try await h.append([half])
            #expect(refused.status == 400, "\(refused.body)")
            let problems = refused.body["problems"] as? [[String: Any]] ?? []
            #expect(problems.map { $0["rule"] as? String } == ["stream.missingHome"], "\(refused.body)")
        }
        #expect(h.journal.endPosition == before)
    }

    /// `registre import` does not judge the domain, so a slot's stream may hold an event whose
    /// data does not decode. It changes no state but takes a version: a command still decides
    /// with the journal's version (not one short, which would conflict on every attempt), and
    /// the live projections count it as an anomaly instead of failing every query.
    @Test func anUndecodableEventInAStreamStopsNeitherCommandsNorLiveProjections() async throws {
        let h = try Harness()
        let slot = UUID()
        #expect(try await h.append([h.publish(slot.uuidString.lowercased(), capacity: 2)]).status == 200)
        _ = try h.journal.appendAndWait(AppendRequest(events: [
            ProposedEvent(stream: "slot-grenoble-\(slot.uuidString.lowercased())", type: "SlotWithdrawn", data: Array(#"{"x":1}"#.utf8)),
        ]))
        let commands = CommandService(journal: h.journal, store: AggregateStore(journal: h.journal), metrics: ServerMetrics(), clock: BusinessClock(),
                                      rules: .standard, attempts: 4, rejectedAttempts: RejectedAttempts(), logger: Logger(label: "test"))
        let identity = IdentityKey(hex: alice)!, fingerprint = Fingerprint(hex: bob)!
        let response: ServerResponse = await withCheckedContinuation { continuation in
            commands.run("book", at: Date(), permissions: .everything, writes: [], resume: .inPlace, done: { continuation.resume(returning: $0) }) { a in
                try Decide.book(UUID(), in: a.slot(.grenoble, slot), for: a.applicant(identity), from: fingerprint, at: Date())
            }
        }
        #expect(response.status.code == 200, "\(String(decoding: response.body, as: UTF8.self))")
        let projections = JournalProjections(journal: h.journal)
        let slots = try await projections.slots(SlotQuery())
        let answer = String(decoding: slots, as: UTF8.self)
        #expect(answer.contains(slot.uuidString.lowercased()) && answer.contains(#""booked":1"#), "\(answer)")
    }

    /// `/projections/delays?groupBy=` answers with the grouping asked for: `month` by category
    /// and month (no site), `site` by category, site and month, `overall` one row per measure.
    /// (Every value but `category` used to answer category, site and month.)
    @Test func eachDelayGroupingAnswersRowsGroupedAsItsNameSays() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        #expect(try await h.append([h.publish(slot, capacity: 2)]).status == 200)
        #expect(try await h.append(h.booked(slot, identity: alice)).status == 200)
        let projections = JournalProjections(journal: h.journal)
        func rows(_ grouping: DelayGrouping) async throws -> [[String: Any]] {
            let answer = try JSONSerialization.jsonObject(with: Data(try await projections.delays(groupBy: grouping))) as? [String: Any]
            return try #require(answer?["delays"] as? [[String: Any]])
        }
        let expected: [(DelayGrouping, String, site: Bool, month: Bool, category: Bool)] = [
            (.overall, "overall", false, false, false), (.category, "category", false, false, true),
            (.month, "category-month", false, true, true), (.categoryMonth, "category-month", false, true, true),
            (.site, "category-site-month", true, true, true), (.categorySiteMonth, "category-site-month", true, true, true),
        ]
        for (grouping, name, site, month, category) in expected {
            let answer = try await rows(grouping)
            #expect(!answer.isEmpty, "groupBy=\(grouping.rawValue): no rows")
            for row in answer {
                #expect(row["grouping"] as? String == name, "groupBy=\(grouping.rawValue): \(row)")
                #expect((row["site"] != nil) == site && (row["month"] != nil) == month && (row["category"] != nil) == category,
                        "groupBy=\(grouping.rawValue): \(row)")
            }
        }
    }

    /// At shutdown the server tells the projections to stop folding: a query that still has
    /// events to fold then answers "not ready" (503) at once instead of folding them all, and
    /// the set stays whole at the last event folded.
    @Test func projectionsToldToStopFoldAnswerNotReadyInsteadOfFoldingOn() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        #expect(try await h.append([h.publish(slot, capacity: 2)]).status == 200)
        let projections = JournalProjections(journal: h.journal)
        _ = try await projections.slots(SlotQuery())
        #expect(try await h.append(h.booked(slot, identity: alice)).status == 200)
        projections.stopFolding()
        await #expect(throws: ProjectionNotReady.self) { try await projections.slots(SlotQuery()) }
    }

    /// A booking that loses the race for its streams every time it is decided is a refused
    /// attempt too (`slot.contended`): a bot losing races by the thousand stays on the record.
    @Test func aBookingThatKeepsLosingTheRaceIsRecordedAsARefusedAttempt() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 5)])
        let rejected = RejectedAttempts()
        let commands = CommandService(journal: h.journal, store: AggregateStore(journal: h.journal), metrics: ServerMetrics(), clock: BusinessClock(),
                                      rules: .standard, attempts: 1, rejectedAttempts: rejected, logger: Logger(label: "test"))
        let identity = IdentityKey(hex: alice)!, fingerprint = Fingerprint(hex: bob)!
        let slotId = UUID(uuidString: slot)!
        let journal = h.journal
        let rival = h.booked(slot, identity: String(repeating: "c", count: 64))
        let response: ServerResponse = await withCheckedContinuation { continuation in
            commands.run("book", at: Date(), permissions: .everything, writes: [], evidenceFrom: fingerprint, resume: .inPlace,
                         done: { continuation.resume(returning: $0) }) { a in
                let plan = try Decide.book(UUID(), in: a.slot(.grenoble, slotId), for: a.applicant(identity), from: fingerprint, at: Date())
                // Someone else books in the slot between this decision and its append.
                _ = try journal.appendAndWait(AppendRequest(events: rival.map { line in
                    let json = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                    return ProposedEvent(stream: json["stream"] as! String, type: "AppointmentBooked",
                                         data: Array(try! JSONSerialization.data(withJSONObject: json["data"]!)))
                }))
                return plan
            }
        }
        #expect(response.status.code == 409, "\(String(decoding: response.body, as: UTF8.self))")
        let evidence = rejected.drain(endedBefore: nil)
        #expect(evidence.map(\.rule) == [.slotContended] && evidence.first?.fingerprint == fingerprint, "\(evidence)")
    }

    @Test func aRetryWithTheSameIdsAnswersTheOriginalResult() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let appointment = UUID().uuidString.lowercased()
        let ids = h.bookingIDs(slot, identity: alice, appointment: appointment)
        let events = h.booked(slot, identity: alice, appointment: appointment, id: ids.slot, applicantID: ids.applicant)
        let first = try await h.append(events)
        let retry = try await h.append(events)
        #expect(first.status == 200 && retry.status == 200)
        #expect(retry.body["firstPosition"] as? Int == first.body["firstPosition"] as? Int)
        #expect(retry.body["alreadyCommitted"] as? Bool == true)
        #expect(h.journal.endPosition == 3)
    }

    @Test func aBookingSentAgainWithoutItsIdsAnswersTheOriginalResult() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let events = h.booked(slot, identity: alice)
        let first = try await h.append(events)
        let retry = try await h.append(events)
        #expect(first.status == 200, "\(first.body)")
        #expect(retry.status == 200, "the rules would refuse it now (slot full, one active appointment): \(retry.body)")
        #expect(retry.body["alreadyCommitted"] as? Bool == true)
        #expect(retry.body["firstPosition"] as? Int == first.body["firstPosition"] as? Int)
        #expect(retry.body["versions"] as? [String: Int] == first.body["versions"] as? [String: Int])
        #expect(h.journal.endPosition == 3)
    }

    @Test func aRetriedBookCommandAnswersTheOriginalResultAndLeavesNoEvidence() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let (endpoints, rejected) = commands(h)
        func book(_ identity: String, appointment: String, in slot: String) async -> (status: UInt, body: [String: Any]) {
            await send(endpoints, ["book"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(identity)","fingerprint":"\#(bob)","appointmentId":"\#(appointment)"}"#)
        }
        let appointment = UUID().uuidString.lowercased()
        let first = await book(alice, appointment: appointment, in: slot)
        #expect(first.status == 200 && first.body["alreadyCommitted"] == nil, "\(first.body)")
        let end = h.journal.endPosition
        let retry = await book(alice, appointment: appointment, in: slot)
        #expect(retry.status == 200, "\(retry.body)")
        #expect(retry.body["alreadyCommitted"] as? Bool == true)
        #expect(retry.body["appointmentId"] as? String == appointment)
        #expect(retry.body["firstPosition"] as? Int == first.body["firstPosition"] as? Int)
        #expect(retry.body["lastPosition"] as? Int == first.body["lastPosition"] as? Int)
        #expect(retry.body["versions"] as? [String: Int] == first.body["versions"] as? [String: Int])
        #expect(h.journal.endPosition == end, "nothing written by the retry")
        #expect(rejected.pendingAttempts == 0, "a retry is not a refused attempt")

        // Not a retry: the same applicant with a new appointment id is judged, refused and kept
        // as evidence; the same appointment id for another applicant is a reused id.
        let second = await book(alice, appointment: UUID().uuidString.lowercased(), in: slot)
        #expect(second.status == 422, "\(second.body)")
        #expect(rejected.pendingAttempts == 1)
        let other = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(other, capacity: 1)])
        let reused = await book(String(repeating: "c", count: 64), appointment: appointment, in: other)
        #expect(reused.status == 409 && reused.body["error"] as? String == "appointmentIdReused", "\(reused.body)")
        #expect(rejected.pendingAttempts == 2, "one slot sold twice leaves evidence")
        // The same through /append: a raw booking of a used appointment id in a third slot.
        let third = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(third, capacity: 1)])
        let raw = try await h.append(h.booked(third, identity: String(repeating: "e", count: 64), appointment: appointment))
        #expect(raw.status == 409 && raw.body["error"] as? String == "appointmentIdReused", "\(raw.body)")
        #expect(h.rejected.pendingAttempts == 1, "\(h.rejected.pendingAttempts)")
    }

    /// Whole seconds from now, as the tests date commands.
    private func secondsFromNow(_ seconds: TimeInterval) -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + seconds).rounded(.down))
    }

    /// Within the business clock's tolerance a client dates its own command; the time rules must
    /// hold on the server's clock as well, or a cancellation dated a minute back passes a cut-off
    /// that has passed, through a command or a raw event alike.
    @Test func aCancellationDatedBeforeACutOffThatHasPassedIsRefused() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased()
        // The applicant's cut-off (24 h before the start) passed 30 s ago.
        _ = try await h.append([h.publish(slot, capacity: 1, start: secondsFromNow(24 * 3600 - 30))])
        let (endpoints, _) = commands(h)
        let booked = await send(endpoints, ["book"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","fingerprint":"\#(bob)","appointmentId":"\#(appointment)"}"#)
        #expect(booked.status == 200, "\(booked.body)")
        let minuteAgo = h.iso(secondsFromNow(-60))
        let cancel = await send(endpoints, ["cancel"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","appointmentId":"\#(appointment)","occurredAt":"\#(minuteAgo)"}"#)
        #expect(cancel.status == 422 && cancel.body["rule"] as? String == "appointment.cancellationCutOffPassed", "\(cancel.body)")
        let data = #"{"schemaVersion":1,"appointmentId":"\#(appointment)","identityKey":"\#(alice)","site":"grenoble","slotId":"\#(slot)","occurredAt":"\#(minuteAgo)"}"#
        let raw = try await h.append([#"{"stream":"slot-grenoble-\#(slot)","type":"AppointmentCancelledByApplicant","data":\#(data)}"#,
                                      #"{"stream":"applicant-\#(alice)","type":"AppointmentCancelledByApplicant","data":\#(data)}"#])
        #expect(raw.status == 422 && raw.body["rule"] as? String == "appointment.cancellationCutOffPassed", "\(raw.body)")
    }

    /// The same for a slot that has started (a booking dated a minute back) and for the one active
    /// appointment per motif (a booking dated past the start of the applicant's current one); a
    /// command whose rules hold at both times is taken, dated as its client said.
    @Test func bookingsAreJudgedOnTheServersClockAsWellAsOnTheirOwnTime() async throws {
        let h = try Harness()
        let (endpoints, _) = commands(h)
        func book(_ slot: String, _ identity: String, at time: Date?) async -> (status: UInt, body: [String: Any]) {
            let dated = time.map { #","occurredAt":"\#(h.iso($0))""# } ?? ""
            return await send(endpoints, ["book"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(identity)","fingerprint":"\#(bob)"\#(dated)}"#)
        }
        let started = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(started, capacity: 1, start: secondsFromNow(-30))])
        let late = await book(started, alice, at: secondsFromNow(-60))
        #expect(late.status == 422 && late.body["rule"] as? String == "slot.alreadyStarted", "\(late.body)")

        let soon = UUID().uuidString.lowercased(), later = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(soon, capacity: 1, start: secondsFromNow(90)), h.publish(later, capacity: 1)])
        #expect(await book(soon, alice, at: nil).status == 200)
        let second = await book(later, alice, at: secondsFromNow(100))
        #expect(second.status == 422 && second.body["rule"] as? String == "applicant.oneActiveAppointmentPerMotif", "\(second.body)")

        let dated = secondsFromNow(-60)
        let other = String(repeating: "c", count: 64)
        let taken = await book(later, other, at: dated)
        #expect(taken.status == 200, "\(taken.body)")
        let stored = try h.journal.readStream("applicant-\(other)")
        #expect(stored.count == 1 && String(decoding: stored[0].data, as: UTF8.self).contains(h.iso(dated)), "the event keeps the client's time")
    }

    /// A reason belongs to the service's cancellation; sent without `"by":"service"` it would be
    /// dropped and the cancellation written as the applicant's.
    @Test func aCancellationWithAReasonButNotByTheServiceIsRefusedByName() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let (endpoints, _) = commands(h)
        let booked = await send(endpoints, ["book"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","fingerprint":"\#(bob)","appointmentId":"\#(appointment)"}"#)
        #expect(booked.status == 200, "\(booked.body)")
        let end = h.journal.endPosition
        let cancel = await send(endpoints, ["cancel"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","appointmentId":"\#(appointment)","reason":"fraud"}"#)
        let problems = cancel.body["problems"] as? [[String: Any]] ?? []
        #expect(cancel.status == 400 && problems.contains { $0["field"] as? String == "reason" }, "\(cancel.body)")
        #expect(h.journal.endPosition == end, "nothing written")
    }

    /// A slot whose sealed segment cannot be read is not a slot that was never published: the
    /// booking gets 503, and no refused attempt is counted against its client.
    @Test func aStreamThatCannotBeReadIsAnErrorNotAnEmptyStream() async throws {
        let directory = NSTemporaryDirectory() + "registre-unreadable-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = JournalOptions()
        options.log = { _ in }
        options.segmentSizeLimit = 2_000
        options.packing = nil
        options.sealedSegmentCheck = .never
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        do {
            let j = try Journal.open(directory: directory, options: options)
            let line = try JSONSerialization.jsonObject(with: Data(h.publish(slot, capacity: 1).utf8)) as! [String: Any]
            _ = try j.appendAndWait(AppendRequest(events: [ProposedEvent(stream: line["stream"] as! String, type: "SlotPublished",
                                                                      data: Array(try JSONSerialization.data(withJSONObject: line["data"]!)))]))
            while j.segmentCount < 2 { _ = try j.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "filler", type: "Filler", data: Array(#"{"x":1}"#.utf8))])) }
            j.close()
        }
        let first = directory + "/" + (try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()[0])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: first)))
        bytes[128 + 64 + 4] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: first))

        let journal = try Journal.open(directory: directory, options: options)
        defer { journal.close() }
        let rejected = RejectedAttempts()
        let endpoints = CommandEndpoints(service: CommandService(
            journal: journal, store: AggregateStore(journal: journal), metrics: ServerMetrics(), clock: BusinessClock(),
            rules: .standard, attempts: 4, rejectedAttempts: rejected, logger: Logger(label: "test")))
        let booked = await send(endpoints, ["book"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","fingerprint":"\#(bob)"}"#)
        #expect(booked.status == 503 && booked.body["error"] as? String == "journalUnavailable", "\(booked.body)")
        #expect(rejected.pendingAttempts == 0, "no refused attempt counted")
        // `/append` expecting a version of that stream: the same error, not "it does not exist".
        let service = AppendService(journal: journal, store: AggregateStore(journal: journal), metrics: ServerMetrics(),
                                    clock: BusinessClock(), rules: .standard, attempts: 4)
        let body = Array(#"{"events":[{"stream":"slot-grenoble-\#(slot)","type":"T","data":{}}],"expectedVersions":{"slot-grenoble-\#(slot)":0}}"#.utf8)
        guard case .success(let parsed) = AppendBody.parse(body) else { Issue.record("the body does not parse"); return }
        let response = await service.append(parsed, permissions: .everything)
        let answer = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        #expect(response.status.code == 503 && answer["error"] as? String == "journalUnavailable", "\(answer)")
    }

    /// The command endpoints over the harness's journal, and the evidence buffer they fill.
    func commands(_ h: Harness) -> (endpoints: CommandEndpoints, rejected: RejectedAttempts) {
        let rejected = RejectedAttempts()
        return (CommandEndpoints(service: CommandService(
            journal: h.journal, store: AggregateStore(journal: h.journal), metrics: ServerMetrics(), clock: BusinessClock(),
            rules: .standard, attempts: 4, rejectedAttempts: rejected, logger: Logger(label: "test"))), rejected)
    }

    func send(_ endpoints: CommandEndpoints, _ path: [String], _ body: String) async -> (status: UInt, body: [String: Any]) {
        let response = await endpoints.handle(path, body: Array(body.utf8), permissions: .everything)
        return (response.status.code, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    /// Sends a command twice: the first is new, the second answered as already committed.
    func sentTwice(_ endpoints: CommandEndpoints, _ path: [String], _ body: String,
                   sourceLocation: SourceLocation = #_sourceLocation) async -> (first: [String: Any], retry: [String: Any]) {
        let first = await send(endpoints, path, body)
        #expect(first.status == 200 && first.body["alreadyCommitted"] == nil, "\(first.body)", sourceLocation: sourceLocation)
        let retry = await send(endpoints, path, body)
        #expect(retry.status == 200 && retry.body["alreadyCommitted"] as? Bool == true, "\(retry.body)", sourceLocation: sourceLocation)
        return (first.body, retry.body)
    }

    @Test func aCommandSentAgainWithItsCommandIdAnswersTheOriginalResult() async throws {
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let dossier = UUID().uuidString.lowercased(), command = UUID().uuidString.lowercased()
        let submit = #"{"dossierId":"\#(dossier)","identityKey":"\#(alice)","category":"student","kind":"first","channel":"online","site":"grenoble","commandId":"\#(command)"}"#
        // Decided again, the retry would be refused: the dossier exists already.
        let (first, retry) = await sentTwice(endpoints, ["dossier", "submit"], submit)
        #expect(retry["firstPosition"] as? Int == first["firstPosition"] as? Int)
        #expect(retry["versions"] as? [String: Int] == first["versions"] as? [String: Int])
        let end = h.journal.endPosition
        #expect(end == 1, "nothing written by the retry")
        let event = try #require(try h.journal.event(id: CommandEventID.eventID(commandId: UUID(uuidString: command)!, index: 0)))
        #expect(event.stream == "dossier-\(dossier)" && event.type == "DossierSubmitted")

        // Without a command id, the same command sent again is judged again.
        let plain = #"{"dossierId":"\#(UUID().uuidString.lowercased())","identityKey":"\#(alice)","category":"student","kind":"first","channel":"online","site":"grenoble"}"#
        #expect(await send(endpoints, ["dossier", "submit"], plain).status == 200)
        #expect(await send(endpoints, ["dossier", "submit"], plain).status == 422)

        // The command id of another command: refused, nothing written.
        let other = await send(endpoints, ["dossier", "declare-complete"], #"{"dossierId":"\#(dossier)","commandId":"\#(command)"}"#)
        #expect(other.status == 409 && other.body["error"] as? String == "commandIdReused", "\(other.body)")
        #expect(h.journal.endPosition == end + 1)
    }

    @Test func aCommandIdSentAgainWithOtherFieldsIsRefusedAndTheSameFieldsInAnyOrderAreARetry() async throws {
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let dossier = UUID().uuidString.lowercased(), command = UUID().uuidString.lowercased()
        let submit = #"{"dossierId":"\#(dossier)","identityKey":"\#(alice)","category":"student","kind":"first","channel":"online","site":"grenoble","commandId":"\#(command)"}"#
        let first = await send(endpoints, ["dossier", "submit"], submit)
        #expect(first.status == 200, "\(first.body)")
        let event = try #require(try h.journal.event(id: CommandEventID.eventID(commandId: UUID(uuidString: command)!, index: 0)))
        #expect(String(decoding: event.metadata, as: UTF8.self).hasPrefix(#"{"command":"dossier/submit","fields":""#), "the digest is kept with the events")

        // The same fields in another order, spaced and escaped otherwise, stamped with a time
        // (the first send took the server's).
        let reordered = #"{ "commandId": "\#(command)", "site": "grenoble", "channel": "online", "kind": "first", "category": "stud\u0065nt", "identityKey": "\#(alice)", "dossierId": "\#(dossier)", "occurredAt": "2026-11-28T09:00:05Z" }"#
        let retry = await send(endpoints, ["dossier", "submit"], reordered)
        #expect(retry.status == 200 && retry.body["alreadyCommitted"] as? Bool == true, "\(retry.body)")

        // The same command id and command, another category: not a retry.
        let changed = submit.replacingOccurrences(of: #""category":"student""#, with: #""category":"family""#)
        let refused = await send(endpoints, ["dossier", "submit"], changed)
        #expect(refused.status == 409 && refused.body["error"] as? String == "commandIdReused", "\(refused.body)")
        #expect((refused.body["message"] as? String)?.contains("other fields") == true, "\(refused.body)")
        #expect(h.journal.endPosition == 1, "nothing written by either")
    }

    @Test func aCommandsEventsWrittenWithoutAFieldsDigestStillAnswerItsRetry() async throws {
        // A journal written before the digest was kept: the events name the command only.
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let dossier = UUID(), command = UUID()
        let submitted = DomainEvent.dossierSubmitted(DossierSubmitted(dossierId: dossier, identityKey: IdentityKey(hex: alice)!, category: .student,
                                                                      kind: .first, channel: .online, site: .grenoble, occurredAt: Date()))
        _ = try await h.journal.append(AppendRequest(events: [
            ProposedEvent(stream: StreamName.dossier(dossier).description, type: submitted.typeName,
                          id: CommandEventID.eventID(commandId: command, index: 0), data: submitted.encodedData(),
                          metadata: Array(#"{"command":"dossier/submit"}"#.utf8)),
        ]))
        let submit = #"{"dossierId":"\#(dossier.canonicalString)","identityKey":"\#(alice)","category":"student","kind":"first","channel":"online","site":"grenoble","commandId":"\#(command.canonicalString)"}"#
        let retry = await send(endpoints, ["dossier", "submit"], submit)
        #expect(retry.status == 200 && retry.body["alreadyCommitted"] as? Bool == true, "\(retry.body)")
        #expect(h.journal.endPosition == 1)
    }

    @Test func aBookCommandIdSentAgainWithOtherFieldsOrForAnotherSlotIsRefusedAndLeavesNoEvidence() async throws {
        let h = try Harness()
        let (endpoints, rejected) = commands(h)
        let first = UUID().uuidString.lowercased(), second = UUID().uuidString.lowercased(), command = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(first, capacity: 1)])
        _ = try await h.append([h.publish(second, capacity: 1)])
        func book(_ slot: String, fingerprint: String) -> String {
            #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","fingerprint":"\#(fingerprint)","commandId":"\#(command)"}"#
        }
        let booked = await send(endpoints, ["book"], book(first, fingerprint: bob))
        #expect(booked.status == 200, "\(booked.body)")
        let end = h.journal.endPosition

        // Another client fingerprint under the same command id: not the same command.
        let otherFields = await send(endpoints, ["book"], book(first, fingerprint: String(repeating: "c", count: 64)))
        #expect(otherFields.status == 409 && otherFields.body["error"] as? String == "commandIdReused", "\(otherFields.body)")
        #expect((otherFields.body["message"] as? String)?.contains("other fields") == true, "\(otherFields.body)")
        // Another slot: the command id fixed the appointment id, which is booked elsewhere.
        let otherSlot = await send(endpoints, ["book"], book(second, fingerprint: bob))
        #expect(otherSlot.status == 409 && otherSlot.body["error"] as? String == "commandIdReused", "\(otherSlot.body)")
        #expect((otherSlot.body["message"] as? String)?.contains("another booking") == true, "\(otherSlot.body)")
        #expect(rejected.pendingAttempts == 0, "neither is a refused booking attempt of the applicant")

        // The same command id for a cancellation of that booking: another command.
        let appointment = try #require(booked.body["appointmentId"] as? String)
        let cancel = await send(endpoints, ["cancel"], #"{"site":"grenoble","slotId":"\#(first)","identityKey":"\#(alice)","appointmentId":"\#(appointment)","commandId":"\#(command)"}"#)
        #expect(cancel.status == 409 && cancel.body["error"] as? String == "commandIdReused", "\(cancel.body)")
        #expect((cancel.body["message"] as? String)?.contains("already names a booking") == true, "\(cancel.body)")
        #expect(h.journal.endPosition == end, "nothing written by any of them")
    }

    @Test func aBookWithACommandIdTakesOnlyTheAppointmentIdDerivedFromIt() async throws {
        // Otherwise the command id would never be found again: the booking's ids follow from the
        // appointment id, and another booking or command could reuse the command id.
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let slot = UUID().uuidString.lowercased(), command = UUID()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let end = h.journal.endPosition
        func book(_ appointment: UUID) -> String {
            #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","fingerprint":"\#(bob)","appointmentId":"\#(appointment.canonicalString)","commandId":"\#(command.canonicalString)"}"#
        }
        let other = await send(endpoints, ["book"], book(UUID()))
        #expect(other.status == 400 && "\(other.body)".contains("appointmentIdFromCommandId"), "\(other.body)")
        #expect(h.journal.endPosition == end)
        let derived = CommandEventID.appointmentId(commandId: command)
        let booked = await send(endpoints, ["book"], book(derived))
        #expect(booked.status == 200 && booked.body["appointmentId"] as? String == derived.canonicalString, "\(booked.body)")
    }

    @Test func aRetryWhoseFirstSendCommitsJustBeforeItIsDecidedIsNotARefusedAttempt() async throws {
        // The first send commits after the retry looked its ids up and before the rules read
        // the state: the rules refuse the applicant's own booking, which is the retry's answer.
        let h = try Harness()
        let (endpoints, rejected) = commands(h)
        let slot = UUID().uuidString.lowercased(), appointment = UUID()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let slotStream = StreamName.slot(site: .grenoble, slotId: UUID(uuidString: slot)!), applicant = StreamName.applicant(IdentityKey(hex: alice)!)
        let ids = h.bookingIDs(slot, identity: alice, appointment: appointment.canonicalString)
        let first = h.booked(slot, identity: alice, appointment: appointment.canonicalString, id: ids.slot, applicantID: ids.applicant)
        let journal = h.journal, bobsFingerprint = Fingerprint(hex: bob)!
        let key = CommandService.RetryKey(events: [(UUID(uuidString: ids.slot)!, slotStream.description), (UUID(uuidString: ids.applicant)!, applicant.description)])
        let response: ServerResponse = await withCheckedContinuation { continuation in
            endpoints.service.run("book", at: Date(), permissions: .everything, writes: [(slotStream, [AppointmentBooked.typeName]), (applicant, [AppointmentBooked.typeName])], evidenceFrom: bobsFingerprint,
                                  retry: key, resume: .inPlace, done: { continuation.resume(returning: $0) }) { a in
                _ = try journal.appendAndWait(AppendRequest(events: first.map { line in
                    let json = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                    return ProposedEvent(stream: json["stream"] as! String, type: "AppointmentBooked", id: UUID(uuidString: json["id"] as! String),
                                         data: Array(try! JSONSerialization.data(withJSONObject: json["data"]!)), metadata: CommandService.metadata(ofCommand: "book"))
                }))
                return try Decide.book(appointment, in: a.slot(.grenoble, UUID(uuidString: slot)!), for: a.applicant(IdentityKey(hex: alice)!),
                                       from: bobsFingerprint, at: Date())
            }
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        #expect(response.status.code == 200 && body["alreadyCommitted"] as? Bool == true, "\(body)")
        #expect(rejected.pendingAttempts == 0)
    }

    @Test func theCommandIdOfACancellationCannotBookAfterwards() async throws {
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let slot = UUID().uuidString.lowercased(), other = UUID().uuidString.lowercased()
        let appointment = UUID().uuidString.lowercased(), command = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        _ = try await h.append([h.publish(other, capacity: 1)])
        _ = try await h.append(h.booked(slot, identity: alice, appointment: appointment))
        let cancel = await send(endpoints, ["cancel"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","appointmentId":"\#(appointment)","commandId":"\#(command)"}"#)
        #expect(cancel.status == 200, "\(cancel.body)")
        let end = h.journal.endPosition
        let book = await send(endpoints, ["book"], #"{"site":"grenoble","slotId":"\#(other)","identityKey":"\#(alice)","fingerprint":"\#(bob)","commandId":"\#(command)"}"#)
        #expect(book.status == 409 && book.body["error"] as? String == "commandIdReused", "\(book.body)")
        #expect(h.journal.endPosition == end)
    }

    @Test func aRetryWhoseFirstSendCommitsWhileItIsDecidedGetsTheOriginalResult() async throws {
        // The retry decides on the state before the first send's commit, meets a conflict (here
        // a third party's booking in the slot), and the first send commits before it decides
        // again: decided again, it would be refused, the appointment being cancelled already.
        let h = try Harness()
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 2)])
        _ = try await h.append(h.booked(slot, identity: alice, appointment: appointment))
        let service = commands(h).endpoints.service
        let command = CommandKey(id: UUID(), fieldsDigest: String(repeating: "d", count: 64))
        let slotStream = StreamName.slot(site: .grenoble, slotId: UUID(uuidString: slot)!), applicant = StreamName.applicant(IdentityKey(hex: alice)!)
        let decided = Mutex<[PlannedAppend]>([])
        let firstSendCommitted = Mutex(false)
        let journal = h.journal
        // Where the retry's first append is answered (a conflict), the first send commits. The
        // answer comes on the journal's writer thread, so the rest goes on another, as it goes
        // on an event loop in the server.
        let resume = ResumePoint { work in
            DispatchQueue.global().async {
                if let plan = decided.withLock({ $0.first }), !firstSendCommitted.withLock({ $0 }) {
                    firstSendCommitted.withLock { $0 = true }
                    _ = try? journal.appendAndWait(AppendRequest(events: plan.events.enumerated().map { k, e in
                        ProposedEvent(stream: e.stream, type: e.event.typeName, id: CommandEventID.eventID(commandId: command.id, index: k), data: e.data,
                                      metadata: CommandService.metadata(ofCommand: "cancel", fieldsDigest: command.fieldsDigest))
                    }))
                }
                work()
            }
        }
        let bobsBooking = h.booked(slot, identity: bob)
        let response: ServerResponse = await withCheckedContinuation { continuation in
            service.run("cancel", at: Date(), permissions: .everything, writes: [(slotStream, [AppointmentCancelledByApplicant.typeName]), (applicant, [AppointmentCancelledByApplicant.typeName])],
                        retry: CommandService.RetryKey(command: command), resume: resume, done: { continuation.resume(returning: $0) }) { a in
                let plan = try Decide.cancelByApplicant(UUID(uuidString: appointment)!, of: a.applicant(IdentityKey(hex: alice)!),
                                                        in: a.slot(.grenoble, UUID(uuidString: slot)!), at: Date())
                if decided.withLock({ $0.isEmpty }) {
                    // A third party books in the slot after this decision: its append will conflict.
                    _ = try journal.appendAndWait(AppendRequest(events: bobsBooking.map { line in
                        let json = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                        return ProposedEvent(stream: json["stream"] as! String, type: "AppointmentBooked",
                                             data: Array(try! JSONSerialization.data(withJSONObject: json["data"]!)))
                    }))
                }
                decided.withLock { $0.append(plan) }
                return plan
            }
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        #expect(response.status.code == 200 && body["alreadyCommitted"] as? Bool == true, "\(body)")
        #expect(decided.withLock { $0.count } == 1, "not decided a second time")
        #expect(firstSendCommitted.withLock { $0 })
    }

    @Test func aRawBookingRetryWhoseFirstSendCommitsWhileItIsJudgedGetsTheOriginalResult() async throws {
        // The writer is held on a frame while a third party's booking, then the retry, queue up
        // behind it: the retry, judged before either commits, meets a conflict; where its answer
        // arrives, the first send commits, so judging again would refuse the applicant's own
        // booking as a second active appointment.
        let hold = Mutex<DispatchSemaphore?>(nil)
        let h = try Harness(clock: {
            hold.withLock { held -> DispatchSemaphore? in defer { held = nil }; return held }?.wait()
            return Int64(Date().timeIntervalSince1970 * 1_000_000)
        })
        func request(_ lines: [String]) throws -> AppendRequest {
            guard case .success(let body) = AppendBody.parse(Array(#"{"events":[\#(lines.joined(separator: ","))]}"#.utf8)) else { throw CancellationError() }
            return body.request(expecting: body.expectations)
        }
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 2)])
        let ids = h.bookingIDs(slot, identity: alice, appointment: appointment)
        let firstSend = try request(h.booked(slot, identity: alice, appointment: appointment, id: ids.slot, applicantID: ids.applicant))
        let thirdParty = try request(h.booked(slot, identity: bob))

        let release = DispatchSemaphore(value: 0)
        hold.withLock { $0 = release }
        try h.journal.enqueueAppend(try request([#"{"stream":"notes-1","type":"noted","data":{}}"#])) { _ in }
        while hold.withLock({ $0 != nil }) { try await Task.sleep(for: .milliseconds(1)) }
        try h.journal.enqueueAppend(thirdParty) { _ in }
        let journal = h.journal
        let resume = ResumePoint { work in
            DispatchQueue.global().async {
                _ = try? journal.appendAndWait(firstSend)
                work()
            }
        }
        guard case .success(let retry) = AppendBody.parse(Array(#"{"events":[\#(h.booked(slot, identity: alice, appointment: appointment).joined(separator: ","))]}"#.utf8)) else {
            Issue.record("the retry does not parse")
            return
        }
        let response: ServerResponse = await withCheckedContinuation { continuation in
            h.service.append(retry, permissions: .everything, resume: resume) { continuation.resume(returning: $0) }
            release.signal()
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        #expect(response.status.code == 200 && body["alreadyCommitted"] as? Bool == true, "\(body)")
        #expect(try h.journal.event(id: UUID(uuidString: ids.applicant)!)?.stream == "applicant-\(alice)")
        #expect(h.journal.endPosition == 6, "the slot, the note, the third party's two copies and the first send's two")
    }

    @Test func aClientMayNotAppendAnEventUnderAnIdOfTheVersionTheServerDerives() async throws {
        let h = try Harness()
        let derived = CommandEventID.eventID(commandId: UUID(), index: 0).canonicalString
        let planted = try await h.append([#"{"stream":"notes-ops","type":"noted","id":"\#(derived)","data":{}}"#])
        #expect(planted.status == 400 && "\(planted.body)".contains("reservedEventId"), "\(planted.body)")
        #expect(h.journal.endPosition == 0)
        let ordinary = try await h.append([#"{"stream":"notes-ops","type":"noted","id":"\#(UUID().uuidString.lowercased())","data":{}}"#])
        #expect(ordinary.status == 200, "\(ordinary.body)")
        // A booking's copies carry their derived ids (version 8) and are still taken.
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let ids = h.bookingIDs(slot, identity: alice, appointment: appointment)
        #expect(try await h.append(h.booked(slot, identity: alice, appointment: appointment, id: ids.slot, applicantID: ids.applicant)).status == 200)
    }

    @Test func anEventPlantedUnderACommandsDerivedIdInAnotherStreamDoesNotPassForItsResult() async throws {
        // The derivation is public: an event under the id a cancellation will use, stored in
        // another stream (not through /append, which refuses such ids, but by an import, say),
        // must not make the cancellation look done when it never is.
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased(), command = UUID()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        _ = try await h.append(h.booked(slot, identity: alice, appointment: appointment))
        _ = try await h.journal.append(AppendRequest(events: [ProposedEvent(
            stream: "notes-ops", type: "noted", id: CommandEventID.eventID(commandId: command, index: 0), data: Array("{}".utf8),
            metadata: Array(#"{"command":"cancel"}"#.utf8))]))
        let end = h.journal.endPosition
        let cancel = await send(endpoints, ["cancel"], #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","appointmentId":"\#(appointment)","commandId":"\#(command.canonicalString)"}"#)
        #expect(cancel.status == 409 && cancel.body["error"] as? String == "commandIdReused", "\(cancel.body)")
        #expect((cancel.body["message"] as? String)?.contains("other streams") == true, "\(cancel.body)")
        #expect(h.journal.endPosition == end)
    }

    @Test func aPeerThatMayNotAppendACommandsEventsGetsNoAnswerFromItsRetry() async throws {
        // A fresh send would be refused when its events are decided: its retry is refused too,
        // rather than telling the peer the original result (or, by a 409, that fields differ).
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let dossier = UUID().uuidString.lowercased(), command = UUID().uuidString.lowercased()
        let submit = #"{"dossierId":"\#(dossier)","identityKey":"\#(alice)","category":"student","kind":"first","channel":"online","site":"grenoble","commandId":"\#(command)"}"#
        #expect(await send(endpoints, ["dossier", "submit"], submit).status == 200)
        let consultationsOnly = Permissions(appendScopes: [AppendScope(eventTypes: ["ConsultationAnswered"], streamPrefixes: ["dossier-"])])
        let response = await endpoints.handle(["dossier", "submit"], body: Array(submit.utf8), permissions: consultationsOnly)
        #expect(response.status.code == 403, "\(String(decoding: response.body, as: UTF8.self))")
    }

    @Test func twoSendsOfACommandIdRacingWithOtherFieldsDoNotShareAResult() async throws {
        // Both are judged new; the other send commits while this one is decided, so the journal
        // finds this one's ids committed and answers "already committed". The events are the
        // other send's, with other fields: that is not this send's answer.
        let h = try Harness()
        let dossier = UUID()
        let service = commands(h).endpoints.service
        let command = CommandKey(id: UUID(), fieldsDigest: String(repeating: "d", count: 64))
        let journal = h.journal
        let response: ServerResponse = await withCheckedContinuation { continuation in
            service.run("dossier/submit", at: Date(), permissions: .everything, writes: [(.dossier(dossier), [DossierSubmitted.typeName])],
                        retry: CommandService.RetryKey(command: command), resume: .inPlace, done: { continuation.resume(returning: $0) }) { a in
                let plan = try Decide.submit(a.dossier(dossier), for: IdentityKey(hex: alice)!, category: .student, kind: .first, channel: .online,
                                             at: .grenoble, on: Date())
                if journal.endPosition == 0 {
                    _ = try journal.appendAndWait(AppendRequest(events: plan.events.enumerated().map { k, e in
                        ProposedEvent(stream: e.stream, type: e.event.typeName, id: CommandEventID.eventID(commandId: command.id, index: k), data: e.data,
                                      metadata: CommandService.metadata(ofCommand: "dossier/submit", fieldsDigest: String(repeating: "e", count: 64)))
                    }))
                }
                return plan
            }
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        #expect(response.status.code == 409 && body["error"] as? String == "commandIdReused", "\(body)")
        #expect(h.journal.endPosition == 1)
    }

    @Test func aCancellationSentAgainWithItsCommandIdIsNotJudgedAgain() async throws {
        let h = try Harness()
        let (endpoints, _) = commands(h)
        let slot = UUID().uuidString.lowercased(), appointment = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        _ = try await h.append(h.booked(slot, identity: alice, appointment: appointment))
        let cancel = #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","appointmentId":"\#(appointment)","commandId":"\#(UUID().uuidString.lowercased())"}"#
        // Decided again, the retry would be refused: the appointment is no longer active.
        let (first, retry) = await sentTwice(endpoints, ["cancel"], cancel)
        #expect(retry["lastPosition"] as? Int == first["lastPosition"] as? Int)
        #expect(h.journal.endPosition == 5)
    }

    @Test func aBookCommandWithOnlyACommandIdGetsTheSameAppointmentIdEachTime() async throws {
        let h = try Harness()
        let (endpoints, rejected) = commands(h)
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let book = #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(alice)","fingerprint":"\#(bob)","commandId":"\#(UUID().uuidString.lowercased())"}"#
        let (first, retry) = await sentTwice(endpoints, ["book"], book)
        #expect(retry["appointmentId"] as? String == first["appointmentId"] as? String)
        #expect(rejected.pendingAttempts == 0)
        #expect(h.journal.endPosition == 3)
    }

    @Test func aSecondBookingOfTheSameAppointmentIdIsRefusedAndNothingOfItIsWritten() async throws {
        let h = try Harness()
        let first = UUID().uuidString.lowercased(), second = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(first, capacity: 1)])
        _ = try await h.append([h.publish(second, capacity: 1)])
        let appointment = UUID().uuidString.lowercased()
        let booked = try await h.append(h.booked(first, identity: alice, appointment: appointment))
        #expect(booked.status == 200, "\(booked.body)")
        let end = h.journal.endPosition
        // Another applicant, another slot, the same appointment id: each stream alone accepts it.
        let reused = try await h.append(h.booked(second, identity: bob, appointment: appointment))
        #expect(reused.status == 409, "\(reused.body)")
        #expect(reused.body["error"] as? String == "appointmentIdReused", "\(reused.body)")
        #expect(h.journal.endPosition == end, "nothing of the refused booking is written")
        // The same applicant in the other slot: refused too (by the applicant's own rule first).
        #expect(try await h.append(h.booked(second, identity: alice, appointment: appointment)).status == 422)
        #expect(h.journal.endPosition == end)
        // A new appointment id books the second slot.
        #expect(try await h.append(h.booked(second, identity: bob)).status == 200)
    }

    @Test func aBookingSentAgainWithOnlyOneOfItsIdsIsARetry() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let appointment = UUID().uuidString.lowercased()
        let ids = h.bookingIDs(slot, identity: alice, appointment: appointment)
        // The slot's copy with its id, the applicant's without: the server fills it in both times.
        let events = h.booked(slot, identity: alice, appointment: appointment, id: ids.slot)
        let first = try await h.append(events)
        let retry = try await h.append(events)
        #expect(first.status == 200 && retry.status == 200, "\(retry.body)")
        #expect(retry.body["alreadyCommitted"] as? Bool == true)
        #expect(h.journal.endPosition == 3)
    }

    @Test func aBookingSentWithIdsOtherThanItsDerivedOnesIsRefused() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let appointment = UUID().uuidString.lowercased()
        let ids = h.bookingIDs(slot, identity: alice, appointment: appointment)
        let end = h.journal.endPosition
        let wrong = try await h.append(h.booked(slot, identity: alice, appointment: appointment, id: UUID().uuidString.lowercased(), applicantID: ids.applicant))
        #expect(wrong.status == 400, "\(wrong.body)")
        #expect(h.journal.endPosition == end)
        let right = try await h.append(h.booked(slot, identity: alice, appointment: appointment, id: ids.slot, applicantID: ids.applicant))
        #expect(right.status == 200, "\(right.body)")
        // Both copies were stored under their derived ids.
        #expect(try h.journal.event(id: UUID(uuidString: ids.slot)!)?.stream == "slot-grenoble-\(slot)")
        #expect(try h.journal.event(id: UUID(uuidString: ids.applicant)!)?.stream == "applicant-\(alice)")
    }

    @Test func theClientsExpectedVersionIsJudgedBeforeTheRules() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 2)])
        let conflict = try await h.append(h.booked(slot, identity: alice), expected: #"{"slot-grenoble-\#(slot)":5}"#)
        #expect(conflict.status == 409)
        let streams = conflict.body["streams"] as? [String: [String: Any]]
        #expect(streams?["slot-grenoble-\(slot)"]?["expected"] as? Int == 5)
        #expect(streams?["slot-grenoble-\(slot)"]?["actual"] as? Int == 0)
        let ok = try await h.append(h.booked(slot, identity: alice), expected: #"{"slot-grenoble-\#(slot)":0,"applicant-\#(alice)":"noStream"}"#)
        #expect(ok.status == 200)
    }

    @Test func businessTimeFarFromTheServerClockIsRefused() async throws {
        let h = try Harness()
        let slot = UUID().uuidString.lowercased()
        _ = try await h.append([h.publish(slot, capacity: 1)])
        let late = try await h.append(h.booked(slot, identity: alice, occurredAt: "2020-01-01T00:00:00Z"))
        #expect(late.status == 422)
        #expect(late.body["rule"] as? String == "clock.businessTimeTooFar")
        #expect(h.rejected.pendingAttempts == 1, "a booking refused for its time is a refused attempt too")
    }

    @Test func domainValidationProblemsCarryTheirIndexInTheWholeAppend() async throws {
        let h = try Harness()
        let free = #"{"stream":"ops-notes","type":"NoteTaken","data":{"text":"anything goes outside the domain"}}"#
        let bad = #"{"stream":"slot-grenoble-nope","type":"SlotPublished","data":{"schemaVersion":1,"site":"paris"}}"#
        let r = try await h.append([free, bad])
        #expect(r.status == 400)
        let problems = r.body["problems"] as? [[String: Any]] ?? []
        #expect(!problems.isEmpty)
        #expect(problems.allSatisfy { $0["eventIndex"] as? Int == 1 })
        #expect(try await h.append([free]).status == 200)
        let typo = try await h.append([#"{"stream":"slot-grenoble-x","type":"AppointmentBookd","data":{}}"#])
        #expect(typo.status == 400)
    }

    @Test func anAppenderOutsideItsScopeIsRefusedWithTheEvent() async throws {
        let h = try Harness()
        let body = try #require(AppendBody.parse(Array(#"{"events":[{"stream":"slot-a","type":"X","data":{}},{"stream":"dossier-b","type":"X","data":{}}]}"#.utf8)).body)
        let r = await h.service.append(body, permissions: Permissions(appendScopes: [AppendScope(streamPrefixes: ["slot-"])]))
        #expect(r.status == .forbidden)
        #expect(String(decoding: r.body, as: UTF8.self).contains(#""eventIndex":1"#))
        #expect(h.journal.endPosition == 0)
    }
}
