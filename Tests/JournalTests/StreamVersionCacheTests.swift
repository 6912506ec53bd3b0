import Foundation
import Testing
@testable import Journal

/// The writer's stream version cache: pending versions belong to their frame, committed ones
/// survive, a failed load is not remembered, and the cache stays within its capacity.
@Suite struct StreamVersionCacheTests {
    private struct LoadFailed: Error {}

    private func slot(_ cache: inout StreamVersionCache, _ stream: String) -> Int {
        cache.slot(of: stream, hash: StreamNameHash.hash(stream, seed: StreamNameHash.processSeed))
    }

    @Test func pendingVersionsAreSeenInTheirFrameAndKeptOnlyOnceCommitted() throws {
        var cache = StreamVersionCache(capacity: 100)
        var loads = 0
        cache.beginFrame()
        let a = slot(&cache, "appointment-1")
        #expect(cache.nextVersion(ofSlot: a) { loads += 1; return 4 } == 5)
        cache.setPendingNextVersion(7, ofSlot: a)
        #expect(cache.nextVersion(ofSlot: a) { loads += 1; return nil } == 7)
        // A frame that is not committed (its write failed) leaves the committed version as it was.
        cache.beginFrame()
        #expect(cache.nextVersion(ofSlot: a) { loads += 1; return nil } == 5)
        cache.setPendingNextVersion(6, ofSlot: a)
        cache.commitFrame()
        cache.beginFrame()
        #expect(cache.nextVersion(ofSlot: slot(&cache, "appointment-1")) { loads += 1; return nil } == 6)
        #expect(loads == 1)
    }

    @Test func aStreamWithoutEventsStartsAtVersionZero() {
        var cache = StreamVersionCache(capacity: 100)
        cache.beginFrame()
        let s = slot(&cache, "new-stream")
        #expect(cache.nextVersion(ofSlot: s) { nil } == 0)
        cache.setPendingNextVersion(1, ofSlot: s)
        cache.commitFrame()
        cache.beginFrame()
        #expect(cache.nextVersion(ofSlot: s) { Issue.record("loaded again"); return nil } == 1)
    }

    @Test func aFailedLoadIsTriedAgainNotRemembered() throws {
        var cache = StreamVersionCache(capacity: 100)
        cache.beginFrame()
        let s = slot(&cache, "dossier-9")
        #expect(throws: LoadFailed.self) { try cache.nextVersion(ofSlot: s) { throw LoadFailed() } }
        #expect(cache.nextVersion(ofSlot: s) { 2 } == 3)
    }

    @Test func streamsWithSharedPrefixesAndManyGrowthsKeepTheirOwnVersions() {
        var cache = StreamVersionCache(capacity: 1 << 20)
        cache.beginFrame()
        var slots: [String: Int] = [:]
        for k in 0..<20_000 {
            let name = k % 2 == 0 ? "dossier-\(k)" : "dossier-\(k)-suffix"
            let s = slot(&cache, name)
            slots[name] = s
            _ = cache.nextVersion(ofSlot: s) { nil }
            cache.setPendingNextVersion(UInt64(k), ofSlot: s)
        }
        cache.commitFrame()
        cache.beginFrame()
        for (name, s) in slots {
            #expect(slot(&cache, name) == s)
            let k = UInt64(name.dropFirst("dossier-".count).prefix { $0.isNumber })!
            #expect(cache.nextVersion(ofSlot: s) { nil } == k)
        }
        #expect(cache.count == 20_000)
    }

    @Test func pastItsCapacityTheCacheIsEmptiedBetweenFramesAndReloads() {
        var cache = StreamVersionCache(capacity: 10)
        cache.beginFrame()
        for k in 0..<11 {
            let s = slot(&cache, "s\(k)")
            _ = cache.nextVersion(ofSlot: s) { UInt64(k) }
        }
        #expect(cache.count == 11)
        cache.commitFrame()
        cache.beginFrame()
        #expect(cache.count == 0)
        var loaded = false
        #expect(cache.nextVersion(ofSlot: slot(&cache, "s3")) { loaded = true; return 3 } == 4)
        #expect(loaded)
    }
}
