import Foundation
import Testing
import Domain
import Simulator

@Suite struct DeterminismTests {
    private func run(seed: UInt64) throws -> [SimulatedAppend] {
        let sink = MemorySink()
        _ = try Simulator(profile: .isere2024(scale: 0.02, years: 1, seed: seed)).run(into: sink)
        return sink.appends
    }

    @Test func theSameSeedWritesByteIdenticalEvents() throws {
        let first = try run(seed: 42)
        let second = try run(seed: 42)
        #expect(first.count > 1_000)
        #expect(first == second)
        let firstIds = first.flatMap { $0.events.map(\.id) }
        #expect(Set(firstIds).count == firstIds.count, "every event id is unique")
    }

    @Test func anotherSeedWritesAnotherHistory() throws {
        let first = try run(seed: 42).flatMap(\.events)
        let other = try run(seed: 43).flatMap(\.events)
        #expect(first.prefix(50).map(\.id) != other.prefix(50).map(\.id))
        #expect(first.map(\.data) != other.map(\.data))
    }

    @Test func theStreamedSequenceIsTheSameHistoryAsARun() throws {
        let profile = SimulationProfile.isere2024(scale: 0.01, years: 1, seed: 5)
        let sink = MemorySink()
        _ = try Simulator(profile: profile).run(into: sink)
        let streamed = Array(Simulator.events(profile: profile))
        #expect(streamed == sink.appends)
    }

    @Test func businessTimesStartIn2024AndNeverGoBack() throws {
        let appends = try run(seed: 42)
        let times = appends.map(\.occurredAt)
        #expect(times.first! >= utc("2024-01-01T00:00:00Z"))
        #expect(times.last! < utc("2025-01-01T00:00:00Z"))
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
    }
}
