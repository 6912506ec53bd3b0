import Foundation
import Testing

/// Requests are answered on the event loop that read them, and only appends wait for the
/// journal's writer; these tests pin down what that must not change.
@Suite struct ServerPipeliningTests {
    private static func appendRequest(_ k: Int) -> [UInt8] {
        let body = #"{"events":[{"stream":"ops-pipelined","type":"T","data":{"k":\#(k)}}]}"#
        return Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenALaterOneIsReadyFirst() throws {
        let server = try RunningServer("pipelined")
        let client = try server.client()
        // One write: an append (answered after its group commit), a health check (answerable at
        // once), a refused append (answerable at once), and another append.
        let refused = Array("POST /append HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}".utf8)
        try client.sendRaw(Self.appendRequest(0) + Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + refused + Self.appendRequest(1))
        let first = try client.readResponse()
        let second = try client.readResponse()
        let third = try client.readResponse()
        let fourth = try client.readResponse()
        #expect(first.status == 200 && first.json["firstPosition"] as? Int == 0, "\(first)")
        #expect(second.status == 200 && second.json["status"] as? String == "ok", "\(second)")
        #expect(third.status == 415, "\(third)")
        #expect(fourth.status == 200 && fourth.json["firstPosition"] as? Int == 1, "\(fourth)")
        #expect(server.stop().exited(0))
    }

    @Test func manyConnectionsAppendingAtOnceEachGetTheirOwnDurableAnswer() throws {
        let server = try RunningServer("many-appenders")
        let positions = Locked([Int]())
        DispatchQueue.concurrentPerform(iterations: 16) { c in
            guard let client = try? server.client() else { return }
            for k in 0..<25 {
                guard let r = try? client.postJSON("/append", #"{"events":[{"stream":"ops-c\#(c)","type":"T","data":{"k":\#(k)}}]}"#),
                      r.status == 200, let p = r.json["firstPosition"] as? Int,
                      (r.json["versions"] as? [String: Int])?["ops-c\(c)"] == k else { continue }
                positions.withLock { $0.append(p) }
            }
        }
        // Every answer names its own position, and every acknowledged append is in the journal.
        #expect(positions.value.count == 400)
        #expect(Set(positions.value) == Set(0..<400))
        #expect(server.stop().exited(0))
        #expect(try allEvents(server.journal).count == 400)
    }
}
