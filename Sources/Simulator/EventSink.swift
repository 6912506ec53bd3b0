/// Where a simulation writes its appends: the journal directly, or a running server.
///
/// The simulator hands over decisions in order and in batches; a sink may pack a batch into fewer
/// appends, but must keep their order and each stream's first expectation.
public protocol EventSink: AnyObject {
    func write(_ appends: [SimulatedAppend]) throws
    /// Makes everything written so far durable and reports any failure still pending.
    func finish() throws
}

/// A sink that keeps everything in memory, for tests and small demos.
public final class MemorySink: EventSink {
    public private(set) var appends: [SimulatedAppend] = []

    public init() {}

    public func write(_ appends: [SimulatedAppend]) throws { self.appends.append(contentsOf: appends) }
    public func finish() throws {}

    public var events: [SimulatedEvent] { appends.flatMap(\.events) }
}

/// A sink that only counts: measures how fast the history is generated, without any storage.
public final class DiscardingSink: EventSink {
    public private(set) var events: UInt64 = 0

    public init() {}

    public func write(_ appends: [SimulatedAppend]) throws {
        for append in appends { events += UInt64(append.events.count) }
    }

    public func finish() throws {}
}
