import Foundation
import Domain

/// Simulates the Isère prefecture's appointments and dossiers: the public entry point.
///
/// Given a profile, the history is deterministic: the same seed writes the same events with the
/// same ids and business times, whatever the sink.
public struct Simulator: Sendable {
    public let profile: SimulationProfile
    /// Decisions handed to the sink at once.
    public var batchSize = 2_000

    public init(profile: SimulationProfile) throws(SimulationError) {
        try profile.validate()
        self.profile = profile
    }

    /// How far a run got: events written, and the business time reached as a share of the period.
    public struct Progress: Sendable {
        public var events: UInt64
        public var businessTime: Date
        public var fractionDone: Double
    }

    /// Runs the whole simulated period into `sink`, then `finish()`es it.
    public func run(into sink: some EventSink, progress: (Progress) -> Void = { _ in }) throws -> SimulationSummary {
        let engine = SimulationEngine(profile: profile)
        let span = max(1, engine.endTime - engine.startTime)
        do {
            while true {
                let appends = engine.nextAppends(minimum: batchSize)
                if appends.isEmpty && engine.finished { break }
                try sink.write(appends)
                progress(Progress(events: engine.tally.events, businessTime: engine.date, fractionDone: min(1, (engine.now - engine.startTime) / span)))
            }
        } catch {
            // The sink still stops its work (a journal sink its writing thread); the first error wins.
            try? sink.finish()
            throw error
        }
        try sink.finish()
        return engine.tally.summary(profile: profile, nextRelease: engine.plannedNextRelease())
    }

    /// The simulated appends as a lazy sequence, without a journal: for benchmarks that need the
    /// realistic event mix. Each iteration starts the simulation afresh.
    public static func events(profile: SimulationProfile) -> SimulatedAppends { SimulatedAppends(profile: profile) }
}

/// The appends of one simulation, generated as they are read.
public struct SimulatedAppends: Sequence, Sendable {
    public let profile: SimulationProfile

    public func makeIterator() -> Iterator { Iterator(engine: SimulationEngine(profile: profile)) }

    public struct Iterator: IteratorProtocol {
        private let engine: SimulationEngine
        private var buffer: [SimulatedAppend] = []
        private var index = 0

        init(engine: SimulationEngine) { self.engine = engine }

        public mutating func next() -> SimulatedAppend? {
            if index == buffer.count {
                buffer = engine.nextAppends(minimum: 1_000)
                index = 0
                if buffer.isEmpty { return nil }
            }
            defer { index += 1 }
            return buffer[index]
        }
    }
}
