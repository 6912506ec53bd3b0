/// What a stream must look like for an append to go through; versions count from 0.
public enum ExpectedStreamVersion: Sendable, Equatable {
    case any
    case noStream
    case streamExists
    case exact(UInt64)
}

/// One event a decision wants appended, and where. The journal assigns the event id.
public struct PlannedEvent: Sendable, Equatable {
    public var stream: String
    public var event: DomainEvent {
        didSet { data = event.encodedData() }
    }
    /// The event's JSON data, encoded once when the decision checked it, so that writers (the
    /// simulator at hundreds of thousands of events a second) do not encode it again.
    public private(set) var data: [UInt8]

    public init(stream: String, event: DomainEvent) {
        self.init(stream: stream, event: event, data: event.encodedData())
    }

    init(stream: String, event: DomainEvent, data: [UInt8]) {
        self.stream = stream
        self.event = event
        self.data = data
    }
}

/// The result of a decision: one atomic, possibly multi-stream append, each stream guarded by the
/// version the decision was made on, so that two racing decisions cannot both succeed.
public struct PlannedAppend: Sendable, Equatable {
    public var events: [PlannedEvent]
    public var expectedVersions: [String: ExpectedStreamVersion]

    public init(events: [PlannedEvent], expectedVersions: [String: ExpectedStreamVersion]) {
        self.events = events
        self.expectedVersions = expectedVersions
    }

    /// The append in the shape `validateAppend` and the journal take.
    public var envelopes: [(stream: String, type: String, data: [UInt8])] {
        events.map { (stream: $0.stream, type: $0.event.typeName, data: $0.data) }
    }
}
