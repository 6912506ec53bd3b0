import Foundation
import Domain
import Journal

/// One event of a simulated append, ready for the journal or the wire: its id is drawn from the
/// seed, so a rerun proposes the very same ids (and a retried append is idempotent).
public struct SimulatedEvent: Sendable, Equatable {
    public var stream: String
    public var type: String
    public var id: UUID
    public var data: [UInt8]
    public var metadata: [UInt8]

    public init(stream: String, type: String, id: UUID, data: [UInt8], metadata: [UInt8]) {
        self.stream = stream
        self.type = type
        self.id = id
        self.data = data
        self.metadata = metadata
    }
}

/// The expected version of one stream of an append, in the order streams first appear.
public struct StreamExpectation: Sendable, Equatable {
    public var stream: String
    public var expected: ExpectedStreamVersion

    public init(stream: String, expected: ExpectedStreamVersion) {
        self.stream = stream
        self.expected = expected
    }
}

/// One decision of the simulated prefecture: an atomic append, as a real service would send it.
public struct SimulatedAppend: Sendable, Equatable {
    public var events: [SimulatedEvent]
    public var expectations: [StreamExpectation]
    /// The business time of the decision.
    public var occurredAt: Date

    public init(events: [SimulatedEvent], expectations: [StreamExpectation], occurredAt: Date) {
        self.events = events
        self.expectations = expectations
        self.occurredAt = occurredAt
    }

    /// The same append in the journal's shape.
    public var appendRequest: AppendRequest {
        var request = AppendRequest(events: [], expectedVersions: [:])
        request.merge(self)
        return request
    }
}

extension AppendRequest {
    /// Adds a decision to a bulk append. A stream keeps the expectation of its first decision in
    /// the bulk, which is what the journal checks before writing any of it.
    mutating func merge(_ append: SimulatedAppend) {
        for event in append.events {
            events.append(ProposedEvent(stream: event.stream, type: event.type, id: event.id, data: event.data, metadata: event.metadata))
        }
        for expectation in append.expectations where expectedVersions[expectation.stream] == nil {
            expectedVersions[expectation.stream] = expectation.expected.journalExpectation
        }
    }
}

extension ExpectedStreamVersion {
    var journalExpectation: ExpectedVersion {
        switch self {
        case .any: .any
        case .noStream: .noStream
        case .streamExists: .streamExists
        case .exact(let version): .exact(version)
        }
    }

    /// The wire form of the server's `expectedVersions`: a number or a keyword.
    var wireJSON: String {
        switch self {
        case .any: "\"any\""
        case .noStream: "\"noStream\""
        case .streamExists: "\"streamExists\""
        case .exact(let version): String(version)
        }
    }
}
