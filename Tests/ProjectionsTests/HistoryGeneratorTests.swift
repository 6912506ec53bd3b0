import Domain
import Foundation
import Journal
import Testing
@testable import Projections

@Suite("Benchmark history")
struct HistoryGeneratorTests {
    @Test("the benchmark's generated history breaks no rule and folds without anomalies")
    func generatedHistoryIsSound() throws {
        let dir = TemporaryDirectory("generated")
        var options = JournalOptions()
        options.durability = .relaxed
        options.log = { _ in }
        let journal = try Journal.open(directory: dir.path, options: options)
        var generator = HistoryGenerator(seed: 7)
        try generator.write(events: 3_000, to: journal)
        journal.close()
        let events = try JournalReader(directory: dir.path).read()
        var checker = RuleChecker()
        var violations: [RuleViolation] = []
        for event in events { violations += checker.check(stream: event.stream, type: event.type, data: event.data, position: event.position) }
        #expect(violations.prefix(3).map(\.description) == [])
        let set = try ProjectionRebuild.rebuild(journal: dir.path)
        #expect(set.anomalies() == [])
        #expect(set.position == UInt64(events.count))
        #expect(!set.abuseRanking().isEmpty)
        #expect(set.delays(groupBy: .overall).count == 3)
    }
}
