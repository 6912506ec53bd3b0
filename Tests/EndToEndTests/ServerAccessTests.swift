import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Peer credentials and the access file: the tests run as some uid, and the access file maps
/// that uid (and its group) to a restricted role.
@Suite(.serialized) struct ServerAccessTests {
    let uid = getuid()
    let gid = getgid()

    private func server(_ label: String, access: String) throws -> RunningServer {
        let scratch = ScratchDirectory(label)
        let path = scratch.file("access.json")
        try access.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)  // whatever the umask: the server refuses an access file others may write
        return try RunningServer(label, extra: ["--access", path], scratch: scratch)
    }

    @Test func withoutAnAccessFileTheServersOwnUidMayDoEverything() throws {
        let server = try RunningServer("owner")
        defer { server.stop() }
        #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-a","type":"T","data":{}}]}"#).status == 200)
        #expect(try server.request("GET", "/events").status == 200)
        #expect(try server.request("GET", "/metrics").status == 200)
        // The socket is group-accessible and no wider.
        var info = stat()
        #expect(lstat(server.socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        // It was bound under a temporary name beside it and moved into place: none is left over.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (server.socket as NSString).deletingLastPathComponent)
            .filter { $0.hasPrefix(".registre-\(server.child.process.processIdentifier)-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// A grant for one dossier step within the `dossier-` prefix does not let a peer run the
    /// others: each is refused before the rules could tell it the dossier's state.
    @Test func aDossierStepOutsideThePeersTypesIsRefusedBeforeTheRulesSpeak() throws {
        let server = try server("dossier-steps", access: #"{"version":1,"grants":[{"uid":\#(uid),"role":"appender","eventTypes":["DossierSubmitted"],"streamPrefixes":["dossier-"]}]}"#)
        defer { server.stop() }
        let decide = try server.request("POST", "/commands/dossier/decide", json: #"{"dossierId":"\#(Fixture.newID())","outcome":"granted"}"#)
        #expect(decide.status == 403 && (decide.json["message"] as? String)?.contains("DecisionRecorded") == true, "\(decide)")
        let withdraw = try server.request("POST", "/commands/dossier/withdraw", json: #"{"dossierId":"\#(Fixture.newID())"}"#)
        #expect(withdraw.status == 403, "\(withdraw)")
    }

    @Test func aBookingSiteMayAppendAppointmentsButNotDossierDecisionsNorRead() throws {
        let server = try server("booking", access: """
        {"version":1,"grants":[{"uid":\(uid),"role":"appender","eventTypes":["SlotPublished","AppointmentBooked"],"streamPrefixes":["slot-","applicant-"]}]}
        """)
        defer { server.stop() }
        let slot = Fixture.newID()
        #expect(try server.request("POST", "/append", json: Fixture.publishBody(slot, capacity: 2)).status == 200)
        let booked = try server.request("POST", "/commands/book", json: Fixture.bookCommand(slot, identity: Fixture.hash(10), fingerprint: Fixture.hash(11)))
        #expect(booked.status == 200, "\(booked)")

        let decision = #"{"events":[{"stream":"dossier-\#(Fixture.newID())","type":"DecisionRecorded","data":{}}]}"#
        let refused = try server.request("POST", "/append", json: decision)
        #expect(refused.status == 403 && refused.json["error"] as? String == "forbidden", "\(refused)")
        #expect((refused.json["message"] as? String)?.contains("DecisionRecorded") == true)
        let command = try server.request("POST", "/commands/dossier/decide", json: #"{"dossierId":"\#(Fixture.newID())","outcome":"granted"}"#)
        // Refused for want of a grant before any rule looks at the (missing) dossier: a peer
        // without the grant learns nothing from the rules.
        #expect(command.status == 403 && command.json["error"] as? String == "forbidden", "\(command)")
        // A booking site may book, but not cancel: refused before the rules, and no refused
        // attempt is kept as evidence in the fingerprint's name.
        let cancel = try server.request("POST", "/commands/cancel", json: #"{"site":"grenoble","slotId":"\#(slot)","identityKey":"\#(Fixture.hash(12))","appointmentId":"\#(Fixture.newID())"}"#)
        #expect(cancel.status == 403, "\(cancel)")
        // Nor record attendances, nor advance a dossier its prefix does not cover: refused before
        // the rules could say whether the appointment exists (a 422 would tell a reader's secret).
        let checkIn = try server.request("POST", "/commands/check-in", json: #"{"identityKey":"\#(Fixture.hash(12))","appointmentId":"\#(Fixture.newID())","presentedIdentityKey":"\#(Fixture.hash(12))"}"#)
        #expect(checkIn.status == 403 && (checkIn.json["message"] as? String)?.contains("AppointmentAttended") == true, "\(checkIn)")
        for path in ["/events", "/streams/slot-grenoble-\(slot)", "/subscribe", "/projections/slots", "/metrics"] {
            let r = try server.request("GET", path)
            #expect(r.status == 403, "\(path): \(r)")
        }
        #expect(try server.request("GET", "/health").status == 200)
        let metricsDenied = try server.request("GET", "/metrics")
        #expect(metricsDenied.status == 403)
    }

    @Test func aReaderMayReadAndNotWriteAndOnlyAuditorsSeeAbuseAndMetrics() throws {
        let server = try server("reader", access: #"{"grants":[{"gid":\#(gid),"role":"reader"}]}"#)
        defer { server.stop() }
        #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-r","type":"T","data":{}}]}"#).status == 403)
        #expect(try server.request("POST", "/commands/book", json: "{}").status == 403)
        #expect(try server.request("GET", "/events").status == 200)
        #expect(try server.request("GET", "/projections/slots").status == 200)
        #expect(try server.request("GET", "/projections/abuse").status == 403)
        #expect(try server.request("GET", "/metrics").status == 403)
        // Bodies are for appends: a peer that may not append cannot make the server hold a
        // large one (refused as too large, unread), and a small one gets the 403.
        let large = #"{"events":[{"stream":"ops-r","type":"T","data":{"pad":""# + String(repeating: "x", count: 100_000) + #""}}]}"#
        let refused = try server.request("POST", "/append", json: large)
        #expect(refused.status == 413 && (refused.json["message"] as? String)?.contains("may not append") == true, "\(refused)")
        #expect(try server.request("GET", "/health").status == 200)
    }

    @Test func anAuditorReadsMetricsAndAbuseAndANameMapsToTheUid() throws {
        let name = String(cString: getpwuid(uid)!.pointee.pw_name)
        let server = try server("auditor", access: #"{"grants":[{"user":"\#(name)","role":"auditor"}]}"#)
        defer { server.stop() }
        #expect(try server.request("GET", "/metrics").status == 200)
        #expect(try server.request("GET", "/projections/abuse").status == 200)
        #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-r","type":"T","data":{}}]}"#).status == 403)
    }

    @Test func aPeerTheFileDoesNotNameIsDeniedEverythingButHealthAndItIsCounted() throws {
        let server = try server("stranger", access: #"{"grants":[{"uid":\#(uid &+ 4242),"role":"admin"}]}"#)
        defer { server.stop() }
        let denied = try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-s","type":"T","data":{}}]}"#)
        #expect(denied.status == 403 && (denied.json["message"] as? String)?.contains("uid \(uid)") == true, "\(denied)")
        #expect(try server.request("GET", "/health").status == 200)
        let outcome = server.stop()
        #expect(outcome.exited(0), "\(outcome)")
        #expect(outcome.err.contains("status=403"), "the denial is logged")
    }

    @Test func aBrokenAccessFileStopsTheServerFromStarting() throws {
        let scratch = ScratchDirectory("badaccess")
        try #"{"grants":[{"uid":1,"role":"root"}]}"#.write(toFile: scratch.file("a.json"), atomically: true, encoding: .utf8)
        chmod(scratch.file("a.json"), 0o600)
        let outcome = try registre(["serve", "--journal", scratch.file("j"), "--socket", "/tmp/rs-bad-\(UUID().uuidString.prefix(6)).sock", "--access", scratch.file("a.json")], timeout: 30)
        #expect(outcome.exited(2), "\(outcome)")
        #expect(outcome.err.contains("\"role\" must be one of"))
        // A sound file that others may write is refused too, and says how to fix it.
        try #"{"version":1,"grants":[]}"#.write(toFile: scratch.file("b.json"), atomically: true, encoding: .utf8)
        chmod(scratch.file("b.json"), 0o666)
        let open = try registre(["serve", "--journal", scratch.file("j"), "--socket", "/tmp/rs-bad-\(UUID().uuidString.prefix(6)).sock", "--access", scratch.file("b.json")], timeout: 30)
        #expect(open.exited(2) && open.err.contains("chmod go-w"), "\(open)")
    }
}
