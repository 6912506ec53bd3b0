import NIOHTTP1

/// A complete response: status, content type and body. Streams (subscriptions) are separate.
struct ServerResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    /// Close the connection after this response (body not read, protocol in doubt, shutdown).
    var closesConnection = false
    /// The error code, for the request log line.
    var errorCode: String?
    /// The `Allow` header of a 405.
    var allow: String?

    static func json(_ status: HTTPResponseStatus = .ok, _ body: [UInt8]) -> ServerResponse {
        ServerResponse(status: status, contentType: "application/json", body: body)
    }

    /// `{"error":"<code>","message":"…"}` plus any details the caller adds.
    static func error(_ status: HTTPResponseStatus, _ code: String, _ message: String,
                      details: (inout JSONBuilder) -> Void = { _ in }) -> ServerResponse {
        var b = JSONBuilder()
        b.field("error", code)
        b.field("message", message)
        details(&b)
        var response = ServerResponse.json(status, b.finished())
        response.errorCode = code
        return response
    }

    static func notFound(_ message: String) -> ServerResponse { .error(.notFound, "notFound", message) }
    static func badRequest(_ code: String = "badRequest", _ message: String) -> ServerResponse { .error(.badRequest, code, message) }
}
