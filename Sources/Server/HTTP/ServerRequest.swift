import Foundation
import NIOCore
import NIOHTTP1

/// A request whose head and whole body have arrived, with its path split and decoded.
struct ServerRequest: Sendable {
    var method: HTTPMethod
    /// The raw request target, for the log line.
    var target: String
    /// The path's segments, percent-decoded: `/streams/slot-x` is `["streams", "slot-x"]`.
    var segments: [String]
    var query: [String: String]
    /// The `Content-Type` header, as sent.
    var contentType: String?
    var body: ByteBuffer

    /// Why a target cannot be a Registre URL: bad percent-escapes or bytes that are not UTF-8.
    struct MalformedTarget: Error { var message: String }

    init(head: HTTPRequestHead, body: ByteBuffer) throws(MalformedTarget) {
        try self.init(head: RequestHead(head), body: body)
    }

    init(head: RequestHead, body: ByteBuffer) throws(MalformedTarget) {
        method = head.method
        target = head.uri
        contentType = head.contentType
        self.body = body
        let uri = head.uri.utf8
        let questionMark = uri.firstIndex(of: UInt8(ascii: "?"))
        let path = uri[..<(questionMark ?? uri.endIndex)]
        guard path.first == UInt8(ascii: "/") else { throw MalformedTarget(message: "the request target must be a path starting with /") }
        segments = []
        for piece in path.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            segments.append(try Self.decode(piece, what: "path"))
        }
        if segments.last == "" { segments.removeLast() }
        query = [:]
        if let q = questionMark {
            for pair in uri[uri.index(after: q)...].split(separator: UInt8(ascii: "&")) {
                let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                let name = try Self.decode(parts[0], what: "query")
                let value = parts.count > 1 ? try Self.decode(parts[1], what: "query") : ""
                guard query[name] == nil else { throw MalformedTarget(message: "query parameter '\(name.prefix(40))' is given twice") }
                query[name] = value
            }
        }
    }

    /// Percent-decodes one component and insists on UTF-8.
    static func decode(_ bytes: Substring.UTF8View.SubSequence, what: String) throws(MalformedTarget) -> String {
        // Most components hold nothing to decode: their bytes are the text, once checked as UTF-8.
        // Their bytes are a slice of a `String`'s, so already sound UTF-8.
        if !bytes.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) {
            return String(Substring(bytes))
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                let h = bytes.index(after: i)
                guard h < bytes.endIndex, bytes.index(after: h) < bytes.endIndex,
                      let hi = hexValue(bytes[h]), let lo = hexValue(bytes[bytes.index(after: h)]) else {
                    throw MalformedTarget(message: "the \(what) holds a '%' not followed by two hex digits")
                }
                out.append(hi << 4 | lo)
                i = bytes.index(h, offsetBy: 2)
            } else {
                out.append(c == UInt8(ascii: "+") && what == "query" ? UInt8(ascii: " ") : c)
                i = bytes.index(after: i)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw MalformedTarget(message: "the \(what) is not valid UTF-8 once decoded")
        }
        return text
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// True when the body is declared as JSON (`application/json`, any case, parameters allowed).
    /// Compared byte by byte: this runs for every append, where Foundation's trimming and
    /// lowercasing cost more than the rest of the check.
    var hasJSONBody: Bool {
        guard let type = contentType else { return false }
        return Self.isJSONMediaType(type)
    }

    static func isJSONMediaType(_ value: String) -> Bool {
        let expected = "application/json".utf8
        var bytes = value.utf8[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        guard bytes.count >= expected.count else { return false }
        var i = bytes.startIndex
        for e in expected {
            let c = bytes[i]
            guard c == e || (c >= 0x41 && c <= 0x5A && c | 0x20 == e) else { return false }
            i = bytes.index(after: i)
        }
        // Only parameters (";…") or trailing whitespace may follow.
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: ";") { return true }
            guard c == 0x20 || c == 0x09 else { return false }
            i = bytes.index(after: i)
        }
        return true
    }

    var bodyBytes: [UInt8] { Array(body.readableBytesView) }
}
