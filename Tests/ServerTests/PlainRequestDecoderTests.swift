import NIOHTTP1
import Testing
@testable import Server

@Suite struct PlainRequestDecoderTests {
    private func decode(_ text: String, maximumHeaderBytes: Int = 32 << 10, maximumBodyBytes: Int = 1 << 20) -> PlainRequestDecoder.Outcome {
        Array(text.utf8).withUnsafeBytes { PlainRequestDecoder.decode($0, maximumHeaderBytes: maximumHeaderBytes, maximumBodyBytes: maximumBodyBytes) }
    }

    @Test func aPlainRequestIsDecodedWholeWithItsBodyLength() {
        let head = "POST /append HTTP/1.1\r\nHost: localhost\r\ncontent-TYPE:  application/json \r\nContent-Length: 2\r\n\r\n"
        guard case .request(let h, let headLength, let bodyLength) = decode(head + "{}GET /health HTTP/1.1\r\n") else {
            Issue.record("not decoded")
            return
        }
        #expect(h == RequestHead(method: .POST, uri: "/append", version: .http1_1, isKeepAlive: true, contentType: "application/json", contentLength: 2))
        #expect(headLength == head.utf8.count)
        #expect(bodyLength == 2)
    }

    @Test func keepAliveFollowsTheVersionAndTheConnectionHeader() {
        func keepAlive(_ text: String) -> Bool? {
            if case .request(let h, _, _) = decode(text) { return h.isKeepAlive }
            return nil
        }
        #expect(keepAlive("GET /health HTTP/1.1\r\n\r\n") == true)
        #expect(keepAlive("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n") == false)
        #expect(keepAlive("GET /health HTTP/1.0\r\n\r\n") == false)
        #expect(keepAlive("GET /health HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n") == true)
    }

    @Test func partsOfAPlainRequestWaitForTheRest() {
        #expect(decode("") == .incomplete)
        #expect(decode("PO") == .incomplete)
        #expect(decode("POST /append HTTP/1.1\r\nHost: x\r") == .incomplete)
        #expect(decode("POST /append HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}") == .incomplete)
    }

    @Test(arguments: [
        "POST /append HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /append HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "POST /append HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}",
        "POST /append HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        "POST /append HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "GET /health HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n",
        "GET /health HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
        "GET /health HTTP/1.1\r\n folded\r\n\r\n",
        "GET /health HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /health HTTP/1.1\r\nX: \u{e9}\r\n\r\n",
        "GET /health HTTP/1.1\nHost: x\n\n",
        "GET /health HTTP/2.0\r\n\r\n",
        "BREW /coffee HTCPCP/1.0\r\n\r\n",
        "get /health HTTP/1.1\r\n\r\n",
        "GET http://example.com/ HTTP/1.1\r\n\r\n",
        "GET  /health HTTP/1.1\r\n\r\n",
        "\u{1}\u{2}junk",
        "GET /health HTTP/1.1\r\nX-Big: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ])
    func anythingElseGoesToTheFullDecoder(text: String) {
        #expect(decode(text, maximumHeaderBytes: 100, maximumBodyBytes: 1000) == .notPlain)
    }

    @Test func aLargeBodyStillOnItsWayGoesToTheFullDecoder() {
        let head = "POST /append HTTP/1.1\r\nContent-Length: \(PlainRequestDecoder.waitedRequestBytes)\r\n\r\n"
        #expect(decode(head + "{") == .notPlain)
    }
}
