import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The domain commands through the socket, and the booking race.
@Suite(.serialized) struct ServerCommandTests {
    @Test func bookCancelReinstateAndCheckInFollowTheAppointmentsLife() throws {
        let server = try RunningServer("commands")
        defer { server.stop() }
        let slot = Fixture.newID(), identity = Fixture.hash(20), fingerprint = Fixture.hash(21), appointment = Fixture.newID()
        #expect(try server.request("POST", "/append", json: Fixture.publishBody(slot, capacity: 1)).status == 200)
        let booked = try server.request("POST", "/commands/book", json: Fixture.bookCommand(slot, identity: identity, fingerprint: fingerprint, appointmentId: appointment))
        #expect(booked.status == 200 && booked.json["appointmentId"] as? String == appointment, "\(booked)")
        #expect((booked.json["versions"] as? [String: Int]) == ["slot-grenoble-\(slot)": 1, "applicant-\(identity)": 0])

        let full = try server.request("POST", "/commands/book", json: Fixture.bookCommand(slot, identity: Fixture.hash(22), fingerprint: fingerprint))
        #expect(full.status == 422 && full.json["rule"] as? String == "slot.capacityExceeded", "\(full)")

        let cancel = #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(identity)","appointmentId":"\#(appointment)"}"#
        #expect(try server.request("POST", "/commands/cancel", json: cancel).status == 200)
        let again = try server.request("POST", "/commands/cancel", json: cancel)
        #expect(again.status == 422 && again.json["rule"] as? String == "appointment.notActive", "\(again)")
        #expect(try server.request("POST", "/commands/reinstate", json: cancel).status == 200)
        let serviceCancel = #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(identity)","appointmentId":"\#(appointment)","by":"service"}"#
        let noReason = try server.request("POST", "/commands/cancel", json: serviceCancel)
        #expect(noReason.status == 400 && (noReason.json["problems"] as? [[String: Any]])?.first?["field"] as? String == "reason")

        let checkIn = #"{"identityKey":"\#(identity)","appointmentId":"\#(appointment)","presentedIdentityKey":"\#(identity)"}"#
        let early = try server.request("POST", "/commands/check-in", json: checkIn)
        #expect(early.status == 422 && early.json["rule"] as? String == "appointment.notStartedYet", "\(early)")

        let stream = try server.request("GET", "/streams/applicant-\(identity)")
        #expect((stream.json["events"] as? [[String: Any]])?.map { $0["type"] as? String } == ["AppointmentBooked", "AppointmentCancelledByApplicant", "AppointmentReinstated"])
        let bad = try server.request("POST", "/commands/book", json: #"{"site":"paris","slotId":"x","colour":1}"#)
        #expect(bad.status == 400)
        let fields = Set((bad.json["problems"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? [])
        #expect(fields == ["colour", "site", "slotId", "identityKey", "fingerprint"], "\(bad)")
        #expect(try server.request("POST", "/commands/teleport", json: "{}").status == 404)
    }

    @Test func anAppointmentIdIsBookedOnceEvenByAnotherApplicantInAnotherSlot() throws {
        let server = try RunningServer("reused-appointment")
        defer { server.stop() }
        let first = Fixture.newID(), second = Fixture.newID(), appointment = Fixture.newID(), fingerprint = Fixture.hash(31)
        for slot in [first, second] {
            #expect(try server.request("POST", "/append", json: Fixture.publishBody(slot, capacity: 1)).status == 200)
        }
        let booked = try server.request("POST", "/commands/book", json: Fixture.bookCommand(first, identity: Fixture.hash(32), fingerprint: fingerprint, appointmentId: appointment))
        #expect(booked.status == 200, "\(booked)")
        let reused = try server.request("POST", "/commands/book", json: Fixture.bookCommand(second, identity: Fixture.hash(33), fingerprint: fingerprint, appointmentId: appointment))
        #expect(reused.status == 409 && reused.json["error"] as? String == "appointmentIdReused", "\(reused)")
        let slots = try server.request("GET", "/projections/slots?site=grenoble")
        let free = (slots.json["slots"] as? [[String: Any]] ?? []).compactMap { $0["slotId"] as? String }
        #expect(free == [second], "the second slot is still free: \(slots)")
        let audit = try registre(["verify", "--journal", server.journal])
        #expect(audit.exited(0), "\(audit)")
    }

    @Test func aDossierGoesThroughItsStepsAndAWrongStepNamesTheRule() throws {
        let server = try RunningServer("dossier")
        defer { server.stop() }
        let dossier = Fixture.newID()
        let submit = #"{"dossierId":"\#(dossier)","identityKey":"\#(Fixture.hash(30))","category":"student","kind":"first","channel":"online","site":"grenoble"}"#
        #expect(try server.request("POST", "/commands/dossier/submit", json: submit).status == 200)
        let early = try server.request("POST", "/commands/dossier/make-available", json: #"{"dossierId":"\#(dossier)","site":"grenoble"}"#)
        #expect(early.status == 422, "\(early)")
        #expect(early.json["rule"] as? String != nil)
        #expect(try server.request("POST", "/commands/dossier/declare-complete", json: #"{"dossierId":"\#(dossier)"}"#).status == 200)
        let stream = try server.request("GET", "/streams/dossier-\(dossier)")
        #expect((stream.json["events"] as? [[String: Any]])?.map { $0["type"] as? String } == ["DossierSubmitted", "DossierDeclaredComplete"])
    }

    /// 16 clients on 16 connections race 12 identities for 8 places (4 slots of 2): exactly 8
    /// bookings, 2 per slot, and no identity with two active appointments. The refused attempts
    /// end up as evidence.
    @Test func sixteenConcurrentClientsNeverOverbook() throws {
        let server = try RunningServer("race")
        let slots = (0..<4).map { _ in Fixture.newID() }
        for s in slots { #expect(try server.request("POST", "/append", json: Fixture.publishBody(s, capacity: 2)).status == 200) }
        let fingerprint = Fixture.hash(99)
        let shared = Locked((statuses: [Int: Int](), booked: [String]()))
        DispatchQueue.concurrentPerform(iterations: 16) { client in
            guard let connection = try? server.client() else { return }
            for attempt in 0..<10 {
                // Identities are shared between clients, so the same identity races itself too.
                let identity = Fixture.hash(1000 + (client * 10 + attempt) % 12)
                let slot = slots[(client + attempt) % slots.count]
                guard let r = try? connection.postJSON("/commands/book", Fixture.bookCommand(slot, identity: identity, fingerprint: fingerprint)) else { continue }
                shared.withLock {
                    $0.statuses[r.status, default: 0] += 1
                    if r.status == 200 { $0.booked.append(identity) }
                }
            }
        }
        let (statuses, bookedIdentities) = shared.value
        #expect(statuses[200] == 8, "\(statuses)")
        #expect(Set(bookedIdentities).count == bookedIdentities.count)
        for s in slots {
            let events = try server.request("GET", "/streams/slot-grenoble-\(s)").json["events"] as? [[String: Any]] ?? []
            #expect(events.filter { $0["type"] as? String == "AppointmentBooked" }.count == 2)
        }
        let refused = statuses.filter { $0.key == 422 }.values.reduce(0, +)
        #expect(refused + (statuses[200] ?? 0) + (statuses[409] ?? 0) == 160, "\(statuses)")
        let outcome = server.stop()
        #expect(outcome.exited(0), "\(outcome)")

        // Shutdown wrote the refused attempts, counted per fingerprint, minute and rule.
        let evidence = try allEvents(server.journal).filter { $0.type == "BookingAttemptsRejected" }
        let counted = evidence.compactMap { jsonObject($0.data)?["count"] as? Int }.reduce(0, +)
        #expect(counted == refused, "\(evidence.count) evidence events")
        #expect(evidence.allSatisfy { $0.stream == "fingerprint-\(fingerprint)" })
        let verify = try registre(["verify", "--journal", server.journal])
        #expect(verify.exited(0), "\(verify)")
    }
}
