import ArgumentParser
import Foundation
import Journal
#if canImport(Glibc)
import Glibc
#endif

// MARK: A small blocking HTTP/1.1 client for the server's Unix socket

/// Why talking to the server failed, in words a person at a terminal can act on.
struct ClientError: Error, CustomStringConvertible {
    var description: String
}

/// One keep-alive HTTP/1.1 connection to `registre serve`. Blocking and allocation-light, so the
/// command-line tools and the socket benchmarks measure the server, not the client.
final class SocketHTTPClient {
    struct Response {
        var status: Int
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let path: String
    private var fd: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private var start = 0
    private var end = 0

    init(path: String) throws {
        self.path = path
        try connectNow()
    }

    deinit { if fd >= 0 { close(fd) } }

    private func connectNow() throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ClientError(description: "socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let e = errno
            close(fd)
            fd = -1
            switch e {
            case ENOENT, ECONNREFUSED:
                throw ClientError(description: "no server is running on \(path) (start one with `registre serve --journal DIR --socket \(path)`)")
            case EACCES:
                throw ClientError(description: "permission denied on \(path): the socket is mode 0660; ask to be put in its group")
            default:
                throw ClientError(description: "cannot connect to \(path): \(String(cString: strerror(e)))")
            }
        }
        start = 0
        end = 0
    }

    /// Sends one request and reads the whole response.
    func send(_ method: String, _ target: String, json body: [UInt8]? = nil) throws -> Response {
        try writeRequest(method, target, body)
        let (status, length, chunked) = try readHead()
        var out: [UInt8] = []
        if chunked {
            try readChunks { out.append(contentsOf: $0); return true }
        } else if let length {
            out.reserveCapacity(length)
            try readExactly(length) { out.append(contentsOf: $0) }
        }
        return Response(status: status, body: out)
    }

    /// Sends a GET and hands each complete line of the (chunked) body to `line` until it
    /// returns false or the server ends the stream. Returns the status.
    func streamLines(_ target: String, _ line: ([UInt8]) -> Bool) throws -> Int {
        try writeRequest("GET", target, nil)
        let (status, length, chunked) = try readHead()
        var pending: [UInt8] = []
        var keepGoing = true
        func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
            pending.append(contentsOf: bytes)
            var from = 0
            while keepGoing, let nl = pending[from...].firstIndex(of: 0x0A) {
                keepGoing = line(Array(pending[from..<nl]))
                from = nl + 1
            }
            pending.removeFirst(from)
            return keepGoing
        }
        if chunked {
            try readChunks(feed)
        } else if let length {
            try readExactly(length) { _ = feed($0) }
        }
        if !pending.isEmpty, keepGoing { _ = line(pending) }
        return status
    }

    private func writeRequest(_ method: String, _ target: String, _ body: [UInt8]?) throws {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes.append(contentsOf: body) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError(description: "the server on \(path) closed the connection (\(String(cString: strerror(errno))))")
            }
            offset += n
        }
    }

    private func fill() throws {
        if start == end { start = 0; end = 0 }
        if end == buffer.count {
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + start, end - start)
                }
                end -= start
                start = 0
            } else {
                buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count))
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, $0.count - end) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { throw ClientError(description: "the server on \(path) closed the connection before answering") }
            end += n
            return
        }
    }

    private func readLine() throws -> String {
        while true {
            if let nl = buffer[start..<end].firstIndex(of: 0x0A) {
                var lineEnd = nl
                if lineEnd > start, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let line = String(decoding: buffer[start..<lineEnd], as: UTF8.self)
                start = nl + 1
                return line
            }
            if end - start > 1 << 20 { throw ClientError(description: "the server sent a header line over 1 MiB") }
            try fill()
        }
    }

    private func readHead() throws -> (status: Int, length: Int?, chunked: Bool) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError(description: "the server sent a malformed status line: \(statusLine.prefix(80))")
        }
        var length: Int?
        var chunked = false
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
        }
        return (status, length, chunked)
    }

    private func readExactly(_ count: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        var remaining = count
        while remaining > 0 {
            if start == end { try fill() }
            let n = min(remaining, end - start)
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            start += n
            remaining -= n
        }
    }

    private func readChunks(_ body: (UnsafeRawBufferPointer) -> Bool) throws {
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                throw ClientError(description: "the server sent a malformed chunk size: \(sizeLine.prefix(40))")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return
            }
            var keep = true
            try readExactly(size) { if keep { keep = body($0) } }
            _ = try readLine()
            if !keep { return }
        }
    }
}

/// What an error answer says, as a message of a few lines.
func describeFailure(_ r: SocketHTTPClient.Response) -> String {
    failureLines(r).joined(separator: "\n")
}

/// What an error answer says: a first line, then one line per problem it lists. `lineOf` names
/// the input line of an event of the append by its index, when the append came from a file.
func failureLines(_ r: SocketHTTPClient.Response, lineOf: (Int) -> Int? = { _ in nil }) -> [String] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else {
        return ["HTTP \(r.status): \(r.text.prefix(300))"]
    }
    var first = "HTTP \(r.status) \(object["error"] as? String ?? "error"): \(object["message"] as? String ?? "")"
    if let rule = object["rule"] as? String { first += " [rule \(rule)]" }
    var lines = [first]
    if let problems = object["problems"] as? [[String: Any]] {
        for p in problems.prefix(20) {
            let index = (p["eventIndex"] as? NSNumber)?.intValue
            let which = index.map { k in lineOf(k).map { "line \($0) (event \(k))" } ?? "event \(k)" } ?? "event -"
            lines.append("  \(which) \(p["field"] as? String ?? ""): \(p["message"] as? String ?? "") [\(p["rule"] as? String ?? "")]")
        }
    }
    return lines
}

/// `--socket PATH`, shared by the client commands.
struct SocketLocation: ParsableArguments {
    @Option(help: ArgumentHelp("The server's Unix socket.", valueName: "PATH"))
    var socket: String

    func connect() throws -> SocketHTTPClient {
        do { return try SocketHTTPClient(path: socket) } catch let e as ClientError {
            printError(e.description)
            throw ExitCode(3)
        }
    }
}

// MARK: registre append

struct AppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append an event given by flags, or the events of an NDJSON file, through a running server.",
        discussion: """
        A file is sent in appends of up to --batch events (fewer when they would pass the journal's 16 MiB \
        per append), each atomic; a line may carry expectedVersion. The whole file is checked before anything \
        is sent: a bad line is reported by number, with every other bad line, and nothing is appended. \
        Prints one result line per append; when the server refuses one, says which lines are in the journal.
        """
    )

    @OptionGroup var server: SocketLocation
    @Option(help: "Stream of the event.") var stream: String?
    @Option(help: "Event type.") var type: String?
    @Option(help: "Event data, a JSON object.") var data: String?
    @Option(help: "Event metadata, a JSON object.") var metadata: String?
    @Option(help: "Event id (a UUID), so that a retry is idempotent.") var id: String?
    @Option(help: "Expected version of the stream: a number, any, noStream or streamExists.") var expectedVersion: String?
    @Option(help: ArgumentHelp("NDJSON file of events (the `registre import` format); - for standard input. It is read whole and checked before anything is sent, so it is held in memory: `registre import` is the tool for bulk loads.", valueName: "FILE")) var file: String?
    @Option(help: "Events per append when sending a file.") var batch: Int = 1000

    func validate() throws {
        if file != nil {
            guard stream == nil, type == nil, data == nil, metadata == nil, id == nil, expectedVersion == nil else {
                throw ValidationError("give either --file or an event by --stream, --type and --data, not both")
            }
        } else {
            guard stream != nil, type != nil, data != nil else { throw ValidationError("an event needs --stream, --type and --data (or use --file)") }
        }
        if let id, UUID(uuidString: id) == nil { throw ValidationError("--id must be a UUID") }
        if let expectedVersion, ExpectedVersion(wire: expectedVersion) == nil {
            throw ValidationError("--expected-version must be a number, any, noStream or streamExists")
        }
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be from 1 to 10000, not \(batch)") }
    }

    func run() throws {
        if let file { return try append(file: file) }
        let client = try server.connect()
        let event = ProposedEvent(stream: stream!, type: type!, id: id.flatMap(UUID.init(uuidString:)),
                                  data: Array(data!.utf8), metadata: Array((metadata ?? "{}").utf8))
        var expectations: [String: ExpectedVersion] = [:]
        if let e = expectedVersion.flatMap(ExpectedVersion.init(wire:)) { expectations[stream!] = e }
        let response: SocketHTTPClient.Response
        do { response = try client.send("POST", "/append", json: Self.body(of: AppendRequest(events: [event], expectedVersions: expectations))) } catch let e as ClientError {
            printError(e.description)
            throw ExitCode(3)
        }
        guard response.status == 200 else {
            failureLines(response).forEach(printError)
            throw ExitCode(1)
        }
        print(response.text)
    }

    /// One append of a file, with the line of each of its events.
    struct FileAppend {
        var request: AppendRequest
        var lines: [Int]
        var range: String { lines.first == lines.last ? "line \(lines[0])" : "lines \(lines[0])–\(lines.last!)" }
    }

    /// Checks every line of the file, then sends its appends in order; stops at the first the
    /// server refuses and says which lines are in the journal.
    private func append(file: String) throws {
        let handle: FileHandle
        if file == "-" { handle = .standardInput } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else { throw ValidationError("\(file) does not exist") }
            guard !isDirectory.boolValue else { throw ValidationError("\(file) is a directory: name an NDJSON file, or - for standard input") }
            guard let h = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
            handle = h
        }
        let (appends, badLines) = Self.appends(of: handle, batch: batch)
        if !badLines.isEmpty {
            let name = file == "-" ? "standard input" : file
            for (line, message) in badLines { printError("\(name) line \(line): \(message)") }
            printError("nothing was sent: mend the line\(badLines.count == 1 ? "" : "s") above and append the file again")
            throw ExitCode(1)
        }
        let client = try server.connect()
        /// The last line whose append the server acknowledged.
        var sentThrough = 0
        func kept(after: String) -> String {
            switch sentThrough {
            case 0: return "no line of the file was appended before it"
            case 1: return "line 1 of the file is in the journal" + after
            default: return "lines 1–\(sentThrough) of the file are in the journal" + after
            }
        }
        for append in appends {
            let response: SocketHTTPClient.Response
            do { response = try client.send("POST", "/append", json: Self.body(of: append.request)) } catch let e as ClientError {
                printError(e.description)
                printError("the append of \(append.range) got no answer and may or may not be in the journal; \(kept(after: "")), and nothing after \(append.range) was sent")
                throw ExitCode(3)
            }
            guard response.status == 200 else {
                failureLines(response, lineOf: { append.lines.indices.contains($0) ? append.lines[$0] : nil }).forEach(printError)
                printError("the server refused the append of \(append.range), and nothing of it was written; \(kept(after: " and nothing after \(sentThrough == 1 ? "it" : "them")"))")
                throw ExitCode(1)
            }
            print(response.text)
            sentThrough = append.lines.last!
        }
    }

    /// The appends the file's lines make, or the bad lines (at most 100) with what is wrong with
    /// each. An append ends at --batch events, before it would pass the journal's bytes per
    /// append, and where a line's expectation does not follow from the append (`ImportBatcher`).
    static func appends(of handle: FileHandle, batch: Int) -> (appends: [FileAppend], badLines: [(Int, String)]) {
        let limits = JournalLimits()
        var batcher = ImportBatcher(maximumEvents: batch)
        var lines: [Int] = []
        var bytes = 0
        var appends: [FileAppend] = []
        var badLines: [(Int, String)] = []
        func flush() {
            guard !batcher.isEmpty else { return }
            appends.append(FileAppend(request: batcher.request, lines: lines))
            batcher.reset()
            lines.removeAll()
            bytes = 0
        }
        var n = 0
        do {
            try LineReader(handle).forEachLine { line in
                n += 1
                if LineReader.isBlank(line) { return }
                let parsed: ImportLine
                do throws(ImportLine.Problem) { parsed = try ImportLine(parsing: line, limits: limits) } catch {
                    badLines.append((n, error.message))
                    if badLines.count >= 100 { throw StopReading() }
                    return
                }
                // After a bad line the others are still checked, but no append is built.
                guard badLines.isEmpty else { return }
                let size = ImportCommand.recordBytes(parsed.event)
                if !batcher.isEmpty, bytes + size > limits.maximumAppendBytes { flush() }
                if !batcher.add(parsed) {
                    flush()
                    _ = batcher.add(parsed)
                }
                lines.append(n)
                bytes += size
            }
        } catch let failure as LineReader.Failure {
            badLines.append((failure.line, failure.message))
        } catch {
            badLines.append((n, "\(error)"))
        }
        flush()
        return (appends, badLines)
    }

    /// The wire form of an append request (README, "Wire contract").
    static func body(of request: AppendRequest) -> [UInt8] {
        var out = Array(#"{"events":["#.utf8)
        for (k, e) in request.events.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(#"{"stream":"#.utf8) + jsonString(e.stream) + Array(#","type":"#.utf8) + jsonString(e.type)
            if let id = e.id { out += Array(#","id":""#.utf8) + Array(id.uuidString.lowercased().utf8) + [UInt8(ascii: "\"")] }
            out += Array(#","data":"#.utf8) + e.data + Array(#","metadata":"#.utf8) + e.metadata + [UInt8(ascii: "}")]
        }
        out += Array(#"],"expectedVersions":{"#.utf8)
        for (k, (stream, expected)) in request.expectedVersions.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out += jsonString(stream) + [UInt8(ascii: ":")]
            if case .exact(let v) = expected { out += Array(String(v).utf8) } else { out += jsonString(expected.description) }
        }
        out += Array("}}".utf8)
        return out
    }

    static func jsonString(_ s: String) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])).map { Array($0.dropFirst().dropLast()) } ?? Array("\"\"".utf8)
    }
}

// MARK: registre read

struct ReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Print events from a running server as NDJSON: one stream, or the whole journal from a position."
    )

    @OptionGroup var server: SocketLocation
    @Option(help: "Read this stream (by version); without it, the whole journal (by position).") var stream: String?
    @Option(help: "First version (with --stream) or position to print.") var from: UInt64?
    @Option(help: "At most this many events.") var limit: Int?
    @Flag(help: "With --stream: newest first.") var backwards = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, not \(limit)") }
        if backwards, stream == nil { throw ValidationError("--backwards reads a stream; give --stream") }
    }

    func run() throws {
        let client = try server.connect()
        let out = StandardOutput()
        var printed = 0
        var next: UInt64? = from
        while limit.map({ printed < $0 }) ?? true {
            let page = min(1000, (limit ?? Int.max) - printed)
            let target: String
            if let stream {
                let encoded = stream.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? stream
                target = "/streams/\(encoded)?limit=\(page)&direction=\(backwards ? "backwards" : "forwards")" + (next.map { "&from=\($0)" } ?? "")
            } else {
                target = "/events?from=\(next ?? 0)&limit=\(page)"
            }
            let response: SocketHTTPClient.Response
            do { response = try client.send("GET", target) } catch let e as ClientError {
                printError(e.description)
                throw ExitCode(3)
            }
            guard response.status == 200 else {
                failureLines(response).forEach(printError)
                throw ExitCode(1)
            }
            guard let page = EventPage(response.body) else {
                printError("the server's answer is not an event list")
                throw ExitCode(1)
            }
            for e in page.events {
                out.write(Array(response.body[e]) + [0x0A])
            }
            printed += page.events.count
            if page.events.isEmpty { break }
            if stream != nil {
                guard let n = page.nextFrom else { break }
                next = n
            } else {
                guard let n = page.nextFrom, let endPosition = page.endPosition, n < endPosition else { break }
                next = n
            }
        }
        out.flush()
    }
}

/// A page of `GET /events` or `GET /streams/{id}`: where each event lies in the answer, so it is
/// printed byte for byte as the server sent it (the journal's bytes of its data and metadata:
/// key order, `1.0`, numbers no Double holds such as `1e400`), and where the next page starts.
struct EventPage {
    var events: [Range<Int>] = []
    var nextFrom: UInt64?
    var endPosition: UInt64?

    private init() {}

    /// Nil unless `body` is one JSON object with an `events` array of objects.
    init?(_ body: [UInt8]) {
        let parsed: EventPage? = body.withUnsafeBytes { bytes -> EventPage? in
            // An event's data lies three levels below the answer's top (the answer, `events`, the
            // event), and may nest as deep as the journal allows: one level more is to spare.
            do throws(JSONValidation.Failure) { try JSONValidation.validateObject(bytes, maximumDepth: JSONValidation.maximumDepth + 4) } catch { return nil }
            guard let start = bytes.firstIndex(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return nil }
            var page = EventPage()
            var sawEvents = false
            for m in JSONSlices.members(ofObject: bytes, in: start..<bytes.count) {
                switch m.key {
                case "events":
                    guard bytes[m.value.lowerBound] == UInt8(ascii: "[") else { return nil }
                    page.events = JSONSlices.elements(ofArray: bytes, in: m.value)
                    guard page.events.allSatisfy({ bytes[$0.lowerBound] == UInt8(ascii: "{") }) else { return nil }
                    sawEvents = true
                case "nextFrom": page.nextFrom = UInt64(String(decoding: bytes[m.value], as: UTF8.self))
                case "endPosition": page.endPosition = UInt64(String(decoding: bytes[m.value], as: UTF8.self))
                default: break
                }
            }
            return sawEvents ? page : nil
        }
        guard let parsed else { return nil }
        self = parsed
    }
}

// MARK: registre tail

struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow a running server's journal (GET /subscribe) and print each event as NDJSON.",
        discussion: "Reconnects by itself from where it stopped when the server drops it as too slow."
    )

    @OptionGroup var server: SocketLocation
    @Option(help: "First position to print (default: only events committed from now on).") var from: UInt64?
    @Option(help: "Stop after this many events.") var count: Int?
    @Flag(help: "Also print heartbeat lines.") var heartbeats = false

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1, not \(count)") }
    }

    func run() throws {
        let out = StandardOutput()
        var position: UInt64
        if let from { position = from } else {
            let client = try server.connect()
            let health = try client.send("GET", "/health")
            position = (try? JSONSerialization.jsonObject(with: Data(health.body)) as? [String: Any])?["position"].flatMap { ($0 as? NSNumber)?.uint64Value } ?? 0
        }
        var printed = 0
        while true {
            let client = try server.connect()
            var resume: UInt64?
            let status: Int
            do {
                status = try client.streamLines("/subscribe?from=\(position)") { line in
                    if line.starts(with: Array(#"{"heartbeat""#.utf8)) {
                        if heartbeats { out.write(line + [0x0A]); out.flush() }
                        return true
                    }
                    if line.starts(with: Array(#"{"error""#.utf8)) {
                        let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                        printError("server: \(object?["message"] as? String ?? String(decoding: line, as: UTF8.self))")
                        // Only a too-slow disconnect is worth an immediate reconnect.
                        if object?["error"] as? String == "tooSlow" { resume = (object?["resumeFrom"] as? NSNumber)?.uint64Value }
                        return false
                    }
                    out.write(line + [0x0A])
                    out.flush()
                    if let p = (try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])?["position"] as? NSNumber {
                        position = p.uint64Value + 1
                    }
                    printed += 1
                    return !out.closedByReader && (count.map { printed < $0 } ?? true)
                }
            } catch let e as ClientError {
                printError(e.description)
                throw ExitCode(3)
            }
            guard status == 200 else {
                printError("the server refused the subscription (HTTP \(status))")
                throw ExitCode(1)
            }
            if out.closedByReader || count.map({ printed >= $0 }) == true { return }
            guard let resume else { return }
            position = resume
        }
    }
}
