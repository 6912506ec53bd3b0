import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every endpoint and status code of `registre serve`, through its real socket.
@Suite(.serialized) struct ServerEndpointTests {
    @Test func appendReadAndRetryThroughTheSocket() throws {
        let server = try RunningServer("endpoints")
        defer { server.stop() }
        let health = try server.request("GET", "/health")
        #expect(health.status == 200 && health.json["status"] as? String == "ok", "\(health)")

        // A free-form event outside the domain streams, with its data kept byte for byte.
        let id = Fixture.newID()
        let body = #"{"events":[{"stream":"ops-1","type":"NoteTaken","id":"\#(id)","data":{ "x" : 1.50 },"metadata":{"by":"test"}}],"expectedVersions":{"ops-1":"noStream"}}"#
        let first = try server.request("POST", "/append", json: body)
        #expect(first.status == 200, "\(first)")
        #expect(first.json["firstPosition"] as? Int == 0 && first.json["lastPosition"] as? Int == 0)
        #expect((first.json["versions"] as? [String: Int]) == ["ops-1": 0])

        // The same append again (same id) answers the original result, even with noStream.
        let retry = try server.request("POST", "/append", json: body)
        #expect(retry.status == 200 && retry.json["firstPosition"] as? Int == 0 && retry.json["alreadyCommitted"] as? Bool == true, "\(retry)")

        let read = try server.request("GET", "/streams/ops-1")
        #expect(read.status == 200)
        #expect(read.text.contains(#""data":{ "x" : 1.50 }"#), "\(read)")
        #expect(read.text.contains(#""metadata":{"by":"test"}"#))
        #expect(read.json["lastVersion"] as? Int == 0)
        let events = read.json["events"] as? [[String: Any]] ?? []
        #expect(events.count == 1 && events[0]["id"] as? String == id && events[0]["position"] as? Int == 0 && events[0]["version"] as? Int == 0)
        #expect((events.first?["recordedAt"] as? String)?.hasSuffix("Z") == true)

        let byID = try server.request("GET", "/events/\(id)")
        #expect(byID.status == 200 && byID.json["stream"] as? String == "ops-1")
        #expect(try server.request("GET", "/events/\(Fixture.newID())").status == 404)
        #expect(try server.request("GET", "/events/not-a-uuid").status == 400)
        #expect(try server.request("GET", "/streams/never-written").json["error"] as? String == "streamNotFound")

        for k in 1...5 {
            #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-1","type":"NoteTaken","data":{"k":\#(k)}}]}"#).status == 200)
        }
        let page = try server.request("GET", "/events?from=2&limit=3")
        #expect((page.json["events"] as? [[String: Any]])?.map { $0["position"] as? Int } == [2, 3, 4])
        #expect(page.json["nextFrom"] as? Int == 5 && page.json["endPosition"] as? Int == 6)
        let backwards = try server.request("GET", "/streams/ops-1?direction=backwards&limit=2")
        #expect((backwards.json["events"] as? [[String: Any]])?.map { $0["version"] as? Int } == [5, 4])
        #expect(backwards.json["nextFrom"] as? Int == 3)
        #expect(try server.request("GET", "/events?limit=0").status == 400)
        #expect(try server.request("GET", "/streams/ops-1?direction=sideways").status == 400)
        #expect(try server.request("GET", "/events?colour=red").status == 400)
    }

    @Test func everyErrorStatusHasItsCodeAndDetails() throws {
        let server = try RunningServer("errors", extra: ["--max-body-bytes", "100000"])
        defer { server.stop() }
        // 409 with the streams' expected and actual versions.
        #expect(try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-2","type":"T","data":{}}]}"#).status == 200)
        let conflict = try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-2","type":"T","data":{}}],"expectedVersions":{"ops-2":"noStream"}}"#)
        #expect(conflict.status == 409 && conflict.json["error"] as? String == "wrongExpectedVersion", "\(conflict)")
        let detail = (conflict.json["streams"] as? [String: [String: Any]])?["ops-2"]
        #expect(detail?["expected"] as? String == "noStream" && detail?["actual"] as? Int == 0)

        // 400 listing every problem.
        let bad = try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-3","type":"T"},{"stream":"slot-x","type":"SlotPublished","data":{}}]}"#)
        #expect(bad.status == 400 && bad.json["error"] as? String == "invalidRequest", "\(bad)")
        #expect((bad.json["problems"] as? [[String: Any]])?.contains { $0["eventIndex"] as? Int == 0 && $0["field"] as? String == "data" } == true)
        // The journal's own limits are 400 problems too.
        let badStream = try server.request("POST", "/append", json: #"{"events":[{"stream":"has space","type":"T","data":{}}]}"#)
        #expect(badStream.status == 400 && (badStream.json["problems"] as? [[String: Any]])?.first?["rule"] as? String == "journal.streamId", "\(badStream)")

        // 422 with the rule and the event index.
        let slot = Fixture.newID()
        let unpublished = try server.request("POST", "/commands/book", json: Fixture.bookCommand(slot, identity: Fixture.hash(1), fingerprint: Fixture.hash(2)))
        #expect(unpublished.status == 422 && unpublished.json["rule"] as? String == "slot.notPublished", "\(unpublished)")
        #expect(unpublished.json.keys.contains("eventIndex"))

        // 413 before the body is read, 415, 404, 405.
        let huge = try server.client()
        try huge.sendRaw(Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n".utf8))
        let tooLarge = try huge.readResponse()
        #expect(tooLarge.status == 413 && tooLarge.json["error"] as? String == "bodyTooLarge", "\(tooLarge)")
        let chunked = try server.client()
        try chunked.sendRaw(Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        for _ in 0..<30 { try? chunked.sendRaw(Array("1000\r\n".utf8) + [UInt8](repeating: 0x20, count: 4096) + Array("\r\n".utf8)) }
        #expect(try chunked.readResponse().status == 413)
        let form = try server.client().send("POST", "/append", body: Array("a=b".utf8), headers: ["Content-Type: application/x-www-form-urlencoded"])
        #expect(form.status == 415 && form.json["error"] as? String == "unsupportedMediaType")
        #expect(try server.request("GET", "/nowhere").status == 404)
        let wrongMethod = try server.request("DELETE", "/append")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "POST")
        #expect(try server.request("POST", "/health", json: "{}").status == 405)

        // Projections are live: they catch up with the journal before answering.
        let freeSlot = Fixture.newID()
        #expect(try server.request("POST", "/append", json: Fixture.publishBody(freeSlot)).status == 200)
        let projection = try server.request("GET", "/projections/slots?site=grenoble")
        #expect(projection.status == 200 && projection.json["slots"] is [Any], "\(projection)")
        #expect((projection.json["position"] as? Int ?? -1) > 0, "the answer says which position it reflects")
        let slotIDs = (projection.json["slots"] as? [[String: Any]] ?? []).compactMap { $0["slotId"] as? String }
        #expect(slotIDs.contains(freeSlot) && slotIDs.allSatisfy { $0 == $0.lowercased() && UUID(uuidString: $0) != nil },
                "slot ids are written in the canonical lowercase form: \(slotIDs)")
        for path in ["/projections/dossiers", "/projections/delays?groupBy=site", "/projections/abuse"] {
            #expect(try server.request("GET", path).status == 200, "\(path)")
        }
        #expect(try server.request("GET", "/projections/dossiers/\(Fixture.newID())").status == 404)
        #expect(try server.request("GET", "/projections/slots?site=paris").status == 400)
        #expect(try server.request("GET", "/projections/delays?groupBy=weather").status == 400)
        #expect(try server.request("GET", "/projections/unknown").status == 404)
    }

    @Test func metricsCountAppendsRejectionsCommitsAndTheJournal() throws {
        let server = try RunningServer("metrics")
        defer { server.stop() }
        for k in 0..<3 { _ = try server.request("POST", "/append", json: #"{"events":[{"stream":"ops-m","type":"T","data":{"k":\#(k)}}]}"#) }
        _ = try server.request("POST", "/commands/book", json: Fixture.bookCommand(Fixture.newID(), identity: Fixture.hash(3), fingerprint: Fixture.hash(4)))
        let metrics = try server.request("GET", "/metrics")
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        let text = metrics.text
        for expected in ["registre_appends_total 3", "registre_appended_events_total 3", #"registre_rejections_total{rule="slot.notPublished"} 1"#,
                         "registre_commit_write_sync_duration_seconds_bucket", "registre_commit_appends_bucket", "registre_commit_events_sum",
                         "registre_append_duration_seconds_count 3", "registre_journal_position 3", "registre_journal_bytes", "registre_subscribers",
                         #"registre_requests_total{route="append",status="200"} 3"#] {
            #expect(text.contains(expected), "missing \(expected) in\n\(text)")
        }
    }
}
