import Foundation

/// The decision functions: pure, given the aggregates they need and a command, they return the
/// append to make or the rule that forbids it. They never read a clock; the caller passes the
/// business time, which the server first checks with `BusinessClock`.
public enum Decide {
    /// Builds the append after checking that every event is valid data, so that a decision can
    /// never produce an event the journal's validation would refuse.
    static func plan(_ writes: [(stream: StreamName, expected: ExpectedStreamVersion, event: DomainEvent)]) throws(Rejection) -> PlannedAppend {
        var checked: [(event: DomainEvent, data: [UInt8])] = []
        for write in writes where !checked.contains(where: { $0.event == write.event }) {
            let data = write.event.encodedData()
            do {
                _ = try DomainEvent.decode(type: write.event.typeName, data: data, eventIndex: 0)
            } catch {
                throw Rejection(.invalidEvent, error.problems.map(\.message).joined(separator: "; "))
            }
            checked.append((write.event, data))
        }
        var events: [PlannedEvent] = []
        events.reserveCapacity(writes.count)
        var expected: [String: ExpectedStreamVersion] = [:]
        for write in writes {
            // A stream name is built once per write: it is a good share of a decision's cost.
            let stream = write.stream.description
            if expected[stream] == nil { expected[stream] = write.expected }
            let data = checked.first { $0.event == write.event }!.data
            events.append(PlannedEvent(stream: stream, event: write.event, data: data))
        }
        return PlannedAppend(events: events, expectedVersions: expected)
    }
}
