import Foundation
import Testing
@testable import Journal

/// Random reads in packed segments keep the blocks they decoded; what they answer never depends
/// on whether a block came from the cache.
@Suite struct BlockCacheTests {
    private func block(_ bytes: Int, first: UInt64 = 0) -> BlockCache.Block {
        let header = FrameHeader(storedLength: UInt32(bytes), payloadLength: UInt32(bytes), codec: .none, firstPosition: first,
                                 eventCount: 1, chainHash: .zero)
        return BlockCache.Block(content: [UInt8](repeating: 7, count: bytes), frames: [(header, 0..<bytes)])
    }

    private func file(_ dir: TemporaryDirectory, _ name: String) throws -> FileDescriptor {
        try FileDescriptor.open(dir.file(name), flags: O_RDWR | O_CREAT)
    }

    @Test func theLeastRecentlyUsedBlockGoesFirstOnceTheBudgetIsReached() throws {
        let dir = TemporaryDirectory("blockcache")
        let f = try file(dir, "a")
        let cache = BlockCache(capacityBytes: 3_000)
        cache.insert(block(1_000), in: f, at: 0)
        cache.insert(block(1_000), in: f, at: 1)
        cache.insert(block(1_000), in: f, at: 2)
        #expect(cache.block(in: f, at: 0) != nil)  // 0 is now more recent than 1
        cache.insert(block(1_000), in: f, at: 3)
        #expect(cache.block(in: f, at: 1) == nil, "the least recently used block was evicted")
        #expect(cache.block(in: f, at: 0) != nil)
        #expect(cache.block(in: f, at: 2) != nil)
        #expect(cache.block(in: f, at: 3) != nil)
        #expect(cache.statistics.bytes == 3_000)
        #expect(cache.statistics.blocks == 3)
    }

    @Test func aBlockLargerThanTheBudgetIsNotKeptAndEvictsNothing() throws {
        let dir = TemporaryDirectory("blockcache")
        let f = try file(dir, "a")
        let cache = BlockCache(capacityBytes: 2_000)
        cache.insert(block(1_500), in: f, at: 0)
        cache.insert(block(2_500), in: f, at: 1)
        #expect(cache.block(in: f, at: 1) == nil)
        #expect(cache.block(in: f, at: 0) != nil)
        let none = BlockCache(capacityBytes: 0)
        none.insert(block(1), in: f, at: 0)
        #expect(none.block(in: f, at: 0) == nil)
    }

    @Test func blocksAreKeyedByFileNotByOffsetAloneAndForgottenWithTheirFile() throws {
        let dir = TemporaryDirectory("blockcache")
        let a = try file(dir, "a"), b = try file(dir, "b")
        let cache = BlockCache(capacityBytes: 10_000)
        cache.insert(block(100, first: 5), in: a, at: 128)
        #expect(cache.block(in: b, at: 128) == nil)
        cache.insert(block(200, first: 9), in: b, at: 128)
        #expect(cache.block(in: a, at: 128)?.frames.first?.header.firstPosition == 5)
        cache.forget(a)
        #expect(cache.block(in: a, at: 128) == nil)
        #expect(cache.block(in: b, at: 128)?.frames.first?.header.firstPosition == 9)
        #expect(cache.statistics.bytes == 200)
    }

    @Test func aBlockFindsTheFrameHoldingAPositionAndNothingOutsideIt() {
        let header1 = FrameHeader(storedLength: 3, payloadLength: 3, codec: .none, firstPosition: 10, eventCount: 2, chainHash: .zero)
        let header2 = FrameHeader(storedLength: 2, payloadLength: 2, codec: .none, firstPosition: 12, eventCount: 3, chainHash: .zero)
        let b = BlockCache.Block(content: [1, 2, 3, 4, 5], frames: [(header1, 0..<3), (header2, 3..<5)])
        #expect(b.withFrame(containing: 11) { h, p in (h.firstPosition, Array(p)) }.map { $0.0 } == 10)
        #expect(b.withFrame(containing: 14) { _, p in Array(p) } == [4, 5])
        #expect(b.withFrame(containing: 9) { _, _ in true } == nil)
        #expect(b.withFrame(containing: 15) { _, _ in true } == nil)
    }

    @Test func readsOfPackedSegmentsAnswerTheSameFromTheCacheAndHitItWhenRepeated() throws {
        let dir = TemporaryDirectory("blockcache-journal")
        var packing = SegmentPacking()
        packing.blockBytes = 4_096
        var options = testOptions(segmentSize: 6_000, packing: packing)
        options.blockCacheBytes = 3 * 4_096 + 1_000  // about three blocks: reads must evict
        let j = try Journal.open(directory: dir.path, options: options)
        defer { j.close() }
        var ids: [UUID] = []
        for k in stride(from: 0, to: 400, by: 4) {
            let batch = (k..<(k + 4)).map { i in event("stream-\(i % 5)", id: UUID(), data: #"{"k":\#(i),"text":"\#(String(repeating: "xyz", count: i % 13))"}"#) }
            ids += batch.map { $0.id! }
            try j.append(batch)
        }
        #expect(j.packer.waitUntilIdle(timeout: 30))
        let sealedEnd = try #require(j.lock.withLock { j.sealed.last.map { $0.index.firstPosition + $0.index.eventCount } })
        #expect(sealedEnd > 100)
        let before = j.blockCache.statistics
        // Every event of the sealed segments by position, twice, and by id: the same answers.
        let first = try (0..<sealedEnd).map { try #require(try j.event(at: $0)) }
        let second = try (0..<sealedEnd).map { try #require(try j.event(at: $0)) }
        #expect(first.map(\.id) == Array(ids[0..<Int(sealedEnd)]))
        #expect(second.map(\.id) == first.map(\.id))
        #expect(second.map(\.data) == first.map(\.data))
        for id in ids[0..<Int(sealedEnd)] where id.uuid.0 % 5 == 0 { #expect(try j.event(id: id)?.id == id) }
        let after = j.blockCache.statistics
        #expect(after.hits - before.hits > Int(sealedEnd), "consecutive events share blocks, so most reads are hits")
        #expect(after.bytes <= options.blockCacheBytes)
        // The same stream read twice through the cache agrees with the whole-journal scan.
        let scanned = try j.readAll(limit: 10_000).filter { $0.stream == "stream-3" }.map(\.id)
        #expect(try j.readStream("stream-3", from: 0, limit: 1_000).map(\.id) == scanned)
        #expect(try j.readStream("stream-3", from: 0, limit: 1_000).map(\.id) == scanned)
    }
}
