import Foundation

/// Writes a simulation through a running Registre server, as a real service would: each decision
/// is one `POST /append` over the server's Unix socket, with its expected versions, so the server
/// validates and checks every rule again.
///
/// Contract: body `{"events":[{"stream","type","id","data","metadata"}],"expectedVersions":{stream: V|"any"|"noStream"|"streamExists"}}`;
/// answer 200 `{"firstPosition":N,"lastPosition":M,"versions":{…}}`, 409 on a version conflict.
public final class SocketSink: EventSink {
    public let client: UnixHTTPClient
    /// Decisions sent per request; 1 is how a live service appends.
    public let appendsPerRequest: Int
    public private(set) var requestsSent = 0
    public private(set) var eventsWritten: UInt64 = 0

    public init(socketPath: String, appendsPerRequest: Int = 1) {
        client = UnixHTTPClient(socketPath: socketPath)
        self.appendsPerRequest = max(1, appendsPerRequest)
    }

    public func write(_ appends: [SimulatedAppend]) throws {
        var index = 0
        while index < appends.count {
            let group = appends[index..<min(appends.count, index + appendsPerRequest)]
            try send(group)
            index += group.count
        }
    }

    public func finish() throws { client.disconnect() }

    private func send(_ group: ArraySlice<SimulatedAppend>) throws {
        let body = Self.requestBody(group)
        let response: UnixHTTPClient.Response
        do {
            response = try client.send(method: "POST", path: "/append", body: body)
        } catch {
            throw SimulationError.sinkFailed("POST /append to \(client.socketPath): \(error)")
        }
        requestsSent += 1
        switch response.status {
        case 200, 201:
            eventsWritten += UInt64(group.reduce(0) { $0 + $1.events.count })
        case 409:
            throw SimulationError.sinkFailed("the server refused an append with a version conflict (is the journal empty, or was it written by another seed?): \(response.bodyText.prefix(500))")
        case 422 where response.bodyText.contains("clock.businessTimeTooFar"):
            throw SimulationError.sinkFailed("the server refuses business times far from its clock, and a simulated history is in the past; start the server with `registre serve --business-clock-skew unlimited` (ServerConfiguration.businessClock) to load a past history: \(response.bodyText.prefix(300))")
        default:
            throw SimulationError.sinkFailed("the server answered \(response.status) to POST /append: \(response.bodyText.prefix(500))")
        }
    }

    /// The wire body of one append holding `group`'s decisions, each stream guarded by its first expectation.
    static func requestBody(_ group: some Collection<SimulatedAppend>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(group.reduce(0) { $0 + $1.events.count } * 420 + 64)
        out.append(contentsOf: #"{"events":["#.utf8)
        var first = true
        var expectations: [StreamExpectation] = []
        var seen = Set<String>()
        for append in group {
            for event in append.events {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: #"{"stream":"#.utf8)
                appendJSONString(event.stream, to: &out)
                out.append(contentsOf: #","type":"#.utf8)
                appendJSONString(event.type, to: &out)
                out.append(contentsOf: #","id":""#.utf8)
                out.append(contentsOf: event.id.uuidString.lowercased().utf8)
                out.append(contentsOf: #"","data":"#.utf8)
                out.append(contentsOf: event.data)
                out.append(contentsOf: #","metadata":"#.utf8)
                out.append(contentsOf: event.metadata)
                out.append(UInt8(ascii: "}"))
            }
            for expectation in append.expectations where seen.insert(expectation.stream).inserted {
                expectations.append(expectation)
            }
        }
        out.append(contentsOf: #"],"expectedVersions":{"#.utf8)
        for (index, expectation) in expectations.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(expectation.stream, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: expectation.expected.wireJSON.utf8)
        }
        out.append(contentsOf: "}}".utf8)
        return out
    }

    private static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                out.append(contentsOf: String(format: "\\u%04x", byte).utf8)
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
