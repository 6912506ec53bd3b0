import Foundation
import Journal

/// `GET /streams/{id}`, `GET /events` and `GET /events/{eventId}`: events in the wire format.
struct ReadEndpoints: Sendable {
    let journal: Journal

    static let maximumLimit: UInt64 = 10_000
    /// An answer stops after the event that takes it past this many bytes (`nextFrom` says where
    /// to go on): events may be up to 1 MiB each, and ten thousand of them would be built whole in
    /// memory for one request of a few bytes.
    static let answerBudgetBytes = 16 << 20

    func stream(_ id: String, query: [String: String]) -> ServerResponse {
        var q = QueryParameters(query, allowed: ["from", "limit", "direction"])
        let from = q.whole("from")
        let limit = q.whole("limit", default: 100, in: 1...Self.maximumLimit)!
        let direction = q.choice("direction", of: ["forwards", "backwards"]).flatMap(ReadDirection.init(rawValue:)) ?? .forwards
        guard q.isValid else { return q.response }
        guard let last = journal.lastVersion(of: id) else {
            return .error(.notFound, "streamNotFound", "stream '\(id.prefix(200))' has no events")
        }
        // Read a page at a time, so that the byte budget also bounds what is read.
        var lines: [[UInt8]] = []
        var bytes = 0
        var tail: RecordedEvent? = nil
        var cursor = from
        do {
            reading: while lines.count < Int(limit), bytes < Self.answerBudgetBytes {
                let requested = min(100, Int(limit) - lines.count)
                let page = try journal.readStream(id, from: cursor, direction: direction, limit: requested)
                for e in page {
                    let line = WireFormat.json(of: e)
                    lines.append(line)
                    bytes += line.count
                    tail = e
                    if bytes >= Self.answerBudgetBytes { break reading }
                }
                // A short page is the end of the stream.
                guard let t = tail, page.count == requested else { break }
                switch direction {
                case .forwards: cursor = t.version + 1
                case .backwards:
                    guard t.version > 0 else { break reading }
                    cursor = t.version - 1
                }
            }
        } catch {
            return AppendOutcome.journalError(thrown: error)
        }
        var b = JSONBuilder(capacity: bytes + 128)
        b.field("stream", id)
        b.field("lastVersion", last)
        b.arrayField("events", lines)
        if let tail {
            switch direction {
            case .forwards where tail.version < last: b.field("nextFrom", tail.version + 1)
            case .backwards where tail.version > 0: b.field("nextFrom", tail.version - 1)
            default: b.nullField("nextFrom")
            }
        } else {
            b.nullField("nextFrom")
        }
        return .json(.ok, b.finished())
    }

    func all(query: [String: String]) -> ServerResponse {
        var q = QueryParameters(query, allowed: ["from", "limit"])
        let from = q.whole("from", default: 0)!
        let limit = Int(q.whole("limit", default: 100, in: 1...Self.maximumLimit)!)
        guard q.isValid else { return q.response }
        var lines: [[UInt8]] = []
        var next = from
        var bytes = 0
        do {
            try journal.forEachEvent(from: from) { view in
                var line: [UInt8] = []
                WireFormat.appendJSON(of: view, to: &line)
                bytes += line.count
                lines.append(line)
                next = view.position + 1
                return lines.count < limit && bytes < Self.answerBudgetBytes
            }
        } catch {
            return AppendOutcome.journalError(thrown: error)
        }
        var b = JSONBuilder(capacity: lines.reduce(128) { $0 + $1.count + 1 })
        b.arrayField("events", lines)
        b.field("nextFrom", next)
        b.field("endPosition", journal.endPosition)
        return .json(.ok, b.finished())
    }

    func event(_ id: String) -> ServerResponse {
        guard let uuid = UUID(uuidString: id) else {
            return .badRequest("invalidEventId", "'\(id.prefix(60))' is not an event id (a UUID)")
        }
        guard let event = try? journal.event(id: uuid) else {
            return .error(.notFound, "eventNotFound", "no event has id \(uuid.uuidString.lowercased())")
        }
        return .json(.ok, WireFormat.json(of: event))
    }
}
