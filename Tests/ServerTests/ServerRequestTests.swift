import NIOCore
import NIOHTTP1
import Testing
@testable import Server

@Suite struct ServerRequestTests {
    private func request(_ uri: String) throws -> ServerRequest {
        try ServerRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri), body: ByteBuffer())
    }

    @Test func splitsAndDecodesThePathAndQuery() throws {
        let r = try request("/streams/slot-grenoble%2Dx?from=3&limit=10&direction=backwards")
        #expect(r.segments == ["streams", "slot-grenoble-x"])
        #expect(r.query == ["from": "3", "limit": "10", "direction": "backwards"])
        #expect(try request("/health/").segments == ["health"])
        #expect(try request("/").segments == [])
    }

    @Test(arguments: ["/streams/%C3", "/streams/%zz", "/x?a=1&a=2", "http://example.com/x", "/x?%FF=1"])
    func refusesTargetsThatAreNotCleanUTF8Paths(uri: String) {
        #expect(throws: ServerRequest.MalformedTarget.self) { _ = try request(uri) }
    }

    @Test func onlyApplicationJSONCountsAsAJSONBody() throws {
        func head(_ type: String?) -> HTTPRequestHead {
            var h = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/append")
            if let type { h.headers.add(name: "Content-Type", value: type) }
            return h
        }
        #expect(try ServerRequest(head: head("application/json"), body: ByteBuffer()).hasJSONBody)
        #expect(try ServerRequest(head: head("Application/JSON; charset=utf-8"), body: ByteBuffer()).hasJSONBody)
        #expect(try !ServerRequest(head: head("text/plain"), body: ByteBuffer()).hasJSONBody)
        #expect(try !ServerRequest(head: head("application/x-www-form-urlencoded"), body: ByteBuffer()).hasJSONBody)
        #expect(try !ServerRequest(head: head(nil), body: ByteBuffer()).hasJSONBody)
    }

    @Test(arguments: [("application/json", true), (" application/json\t", true), ("APPLICATION/json;charset=utf-8", true),
                      ("application/json ; charset=utf-8", true), ("application/jsonx", false), ("application/json x", false),
                      ("application/json-patch+json", false), ("application/jso", false), ("", false), ("text/json", false)])
    func theJSONMediaTypeIsMatchedWithoutRegardToCaseOrParameters(value: String, isJSON: Bool) {
        #expect(ServerRequest.isJSONMediaType(value) == isJSON)
    }
}
