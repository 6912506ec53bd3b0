import Foundation
import Synchronization
import Testing
@testable import Journal

@Suite struct AppendAndReadTests {
    @Test func eventsReadBackExactlyAsAppendedAfterReopen() throws {
        let dir = TemporaryDirectory()
        let id = UUID()
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            let r = try j.append([event("a", "Opened", id: id, data: #"{"x":"é\u00e9"}"#), event("b", "Closed")])
            #expect(r.firstPosition == 0 && r.lastPosition == 1)
            #expect(r.versions == ["a": 0, "b": 0])
            j.close()
        }
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let all = try j.readAll()
        #expect(all.count == 2)
        #expect(all[0].id == id && all[0].stream == "a" && all[0].type == "Opened" && all[0].version == 0)
        #expect(all[0].data == json(#"{"x":"é\u00e9"}"#))
        #expect(all[0].metadata == json("{}"))
        #expect(!all[0].endsAppend && all[1].endsAppend)
        #expect(try j.event(id: id)?.position == 0)
        #expect(j.lastVersion(of: "a") == 0)
        #expect(j.lastVersion(of: "nope") == nil)
    }

    @Test func positionsAreGaplessAndVersionsCountPerStream() throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        try fill(j, count: 100, streams: 3)
        let all = try j.readAll(limit: 1000)
        #expect(all.map(\.position) == Array(0..<100))
        for s in 0..<3 {
            #expect(all.filter { $0.stream == "s-\(s)" }.map(\.version) == Array(0..<UInt64(all.filter { $0.stream == "s-\(s)" }.count)))
        }
        #expect(try j.readAll(from: 95).map(\.position) == [95, 96, 97, 98, 99])
        #expect(try j.readAll(from: 100).isEmpty)
    }

    @Test func streamsReadForwardsAndBackwardsFromAVersion() throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        defer { j.close() }
        try fill(j, count: 300, streams: 4)
        #expect(j.segmentCount > 3)
        let forwards = try j.readStream("s-1", from: 10, limit: 5)
        #expect(forwards.map(\.version) == [10, 11, 12, 13, 14])
        #expect(forwards.allSatisfy { $0.stream == "s-1" })
        let backwards = try j.readStream("s-1", from: 10, direction: .backwards, limit: 3)
        #expect(backwards.map(\.version) == [10, 9, 8])
        let last = try j.readStream("s-1", direction: .backwards, limit: 1)
        #expect(last.first?.version == j.lastVersion(of: "s-1"))
        let everything = try j.readStream("s-2", limit: 10_000)
        #expect(everything.map(\.version) == Array(0..<75))
        #expect(Set(everything.map(\.position)).count == 75)
    }

    @Test func segmentsSealAtTheSizeLimitAndReopenFromTheirIndexes() throws {
        let dir = TemporaryDirectory()
        var ids: [UUID] = []
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 4_000))
            for i in 0..<200 {
                let id = UUID()
                ids.append(id)
                try j.append([event("s-\(i % 5)", id: id)])
            }
            j.close()
        }
        #expect(dir.segmentFiles().count > 5)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 4_000))
        defer { j.close() }
        #expect(j.recovery.rebuiltIndexes.isEmpty)
        for (p, id) in ids.enumerated() {
            #expect(try j.event(id: id)?.position == UInt64(p))
        }
        #expect(j.lastVersion(of: "s-3") == 39)
        let r = try j.append([event("s-3")], expecting: ["s-3": .exact(39)])
        #expect(r.firstPosition == 200 && r.versions["s-3"] == 40)
    }

    @Test func aMissingIndexIsRebuiltFromItsSegment() throws {
        let dir = TemporaryDirectory()
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 3_000))
            try fill(j, count: 150)
            j.close()
        }
        let indexes = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/index").sorted()
        #expect(indexes.count >= 2)
        let victim = dir.path + "/index/" + indexes[1]
        let before = try Data(contentsOf: URL(fileURLWithPath: victim))
        try FileManager.default.removeItem(atPath: victim)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 3_000))
        defer { j.close() }
        #expect(j.recovery.rebuiltIndexes.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == before)
        #expect(try j.readAll(limit: 1000).count == 150)
    }

    @Test func concurrentAppendsShareFramesAndLoseNothing() async throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        let results = try await withThrowingTaskGroup(of: [AppendResult].self) { group in
            for t in 0..<16 {
                group.addTask {
                    var out: [AppendResult] = []
                    for i in 0..<25 { out.append(try await j.append(AppendRequest(events: [event("client-\(t)", data: #"{"i":\#(i)}"#)]))) }
                    return out
                }
            }
            var all: [AppendResult] = []
            for try await r in group { all += r }
            return all
        }
        j.close()
        #expect(results.count == 400)
        #expect(Set(results.map(\.firstPosition)) == Set(0..<400))
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isClean)
        #expect(report.eventCount == 400)
        #expect(report.frameCount < 400, "16 concurrent clients should share frames (group commit)")
    }

    @Test func recordedTimesNeverGoBackwards() throws {
        let dir = TemporaryDirectory()
        var o = testOptions()
        let times = Counter()
        o.clock = { 1_000_000 - times.next() * 10 }  // a clock that runs backwards
        let j = try Journal.open(directory: dir.path, options: o)
        defer { j.close() }
        try fill(j, count: 20, perAppend: 1)
        let recorded = try j.readAll().map(\.recordedAtMicros)
        #expect(recorded == recorded.sorted())
    }

    @Test func aSecondWriterIsRefused() throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        #expect(throws: JournalError.locked(path: dir.path + "/LOCK")) { try Journal.open(directory: dir.path, options: testOptions()) }
    }

    @Test func appendsAfterCloseFail() throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        j.close()
        #expect(throws: JournalError.closed) { try j.append([event("a")]) }
    }
}

@Suite struct CommitNotificationTests {
    @Test func aWaiterWakesWhenTheJournalGrowsPastItsPosition() async throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        try j.append([event("a")])
        #expect(await j.waitForEvents(beyond: 0, timeout: .milliseconds(10)), "position 0 already exists")
        async let woke = j.waitForEvents(beyond: 1, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(50))
        _ = try await j.append(AppendRequest(events: [event("b")]))
        #expect(await woke)
    }

    /// The timer of a wait may fire before the wait is registered (a timeout of a few
    /// microseconds, a preempted thread): the wait must still end, not sleep until the next commit.
    @Test func waitsWithTinyTimeoutsAllEndOnAQuietJournal() async throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        // Each wait pauses between taking its id and registering, long past its timeout.
        j.notifier.beforeRegistering = { usleep(200) }
        let waits = 500
        let ended = Mutex(0)
        // Unstructured, so that a wait that never ends fails this test instead of hanging it; the
        // test polls with sleeps, never blocking a thread the timers need.
        Task.detached {
            for k in 0..<waits {
                _ = await j.waitForEvents(beyond: 0, timeout: .nanoseconds(k % 50))
                ended.withLock { $0 += 1 }
            }
        }
        for _ in 0..<600 where ended.withLock({ $0 }) < waits { try await Task.sleep(for: .milliseconds(100)) }
        #expect(ended.withLock { $0 } == waits, "\(ended.withLock { $0 }) of \(waits) waits ended; the next one never woke")
    }

    @Test func aWaiterTimesOutWhenNothingIsAppended() async throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        let start = ContinuousClock.now
        #expect(await j.waitForEvents(beyond: 0, timeout: .milliseconds(100)) == false)
        #expect(ContinuousClock.now - start >= .milliseconds(90))
        #expect(!j.isClosedForFollowers)
    }

    /// Once the journal is closed a wait returns at once, and followers can tell that from a
    /// timeout (a subscription that could not would spin).
    @Test func aClosedJournalTellsFollowersSo() async throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        j.close()
        let start = ContinuousClock.now
        #expect(await j.waitForEvents(beyond: 0, timeout: .seconds(5)) == false)
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(j.isClosedForFollowers)
    }
}
