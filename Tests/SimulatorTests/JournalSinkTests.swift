import Foundation
import Testing
import Domain
import Journal
import Simulator

@Suite struct JournalSinkTests {
    @Test func aSimulationWrittenToAJournalReadsBackEventForEventAndPassesTheRules() throws {
        let directory = NSTemporaryDirectory() + "registre-sim-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = JournalOptions()
        options.durability = .relaxed
        let journal = try Journal.open(directory: directory, options: options)
        let profile = SimulationProfile.isere2024(scale: 0.01, years: 1, seed: 11)
        let sink = JournalSink(journal: journal, maximumEventsPerAppend: 500)
        let summary = try Simulator(profile: profile).run(into: sink)
        #expect(journal.endPosition == summary.events)
        #expect(sink.eventsWritten == summary.events)
        journal.close()

        let expected = Array(Simulator.events(profile: profile)).flatMap(\.events)
        var checker = RuleChecker()
        var violations: [RuleViolation] = []
        var index = 0
        var mismatches = 0
        try JournalReader(directory: directory).forEachEvent { view in
            let data = Array(view.dataBytes)
            if index >= expected.count || view.id != expected[index].id || view.stream != expected[index].stream || data != expected[index].data {
                mismatches += 1
            }
            violations += checker.check(stream: view.stream, type: view.type, data: data, position: view.position)
            index += 1
            return true
        }
        #expect(index == expected.count)
        #expect(mismatches == 0)
        #expect(violations.isEmpty, "\(violations.prefix(3))")
    }

    @Test func rerunningTheSameSeedIntoTheSameJournalWritesNothingTwice() throws {
        let directory = NSTemporaryDirectory() + "registre-sim-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = JournalOptions()
        options.durability = .relaxed
        let journal = try Journal.open(directory: directory, options: options)
        defer { journal.close() }
        let simulator = try Simulator(profile: .isere2024(scale: 0.005, years: 1, seed: 1))
        let summary = try simulator.run(into: JournalSink(journal: journal))
        // The same ids again: the journal recognises every bulk append as already committed.
        _ = try simulator.run(into: JournalSink(journal: journal))
        #expect(journal.endPosition == summary.events)
    }
}
