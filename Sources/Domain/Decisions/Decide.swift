import Foundation

/// The decision functions: pure, given the aggregates they need and a command, they return the
/// append to make or the rule that forbids it. They never read a clock; the caller passes the
/// business time, which the server first checks with `BusinessClock`.
public enum Decide {
    /// Builds the append after checking that every event is valid data, so that a decision can
    /// never produce an event the journal's validation would refuse.
    static func plan(_ writes: [(stream: StreamName, expected: ExpectedStreamVersion, event: DomainEvent)]) throws(Rejection) -> PlannedAppend {
        var checked: [DomainEvent] = []
        for write in writes where !checked.contains(write.event) {
            do {
                _ = try DomainEvent.decode(type: write.event.typeName, data: write.event.encodedData(), eventIndex: 0)
            } catch {
                throw Rejection(.invalidEvent, error.problems.map(\.message).joined(separator: "; "))
            }
            checked.append(write.event)
        }
        var expected: [String: ExpectedStreamVersion] = [:]
        for write in writes where expected[write.stream.description] == nil {
            expected[write.stream.description] = write.expected
        }
        return PlannedAppend(events: writes.map { PlannedEvent(stream: $0.stream.description, event: $0.event) }, expectedVersions: expected)
    }
}
