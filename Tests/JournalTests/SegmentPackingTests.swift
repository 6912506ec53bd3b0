import Foundation
import Synchronization
import Testing
@testable import Journal

/// Sealed segments are rewritten with their frames compressed together in blocks (FORMAT.md,
/// section 3.1). Packing changes bytes, never events: every read, the chain, the Merkle tree and
/// the verification must come out the same, and a crash at any step must leave whole files.
@Suite struct SegmentPackingTests {
    let dir = TemporaryDirectory("packing")

    /// Small blocks, so each sealed segment holds several.
    private var packing: SegmentPacking {
        var p = SegmentPacking()
        p.blockBytes = 4_096
        return p
    }

    private func options(packing: SegmentPacking?) -> JournalOptions {
        testOptions(segmentSize: 6_000, packing: packing)
    }

    /// Writes events with ids, streams and types varied enough to exercise every index section.
    @discardableResult
    private func write(_ j: Journal, count: Int, from start: Int = 0) throws -> [UUID] {
        var ids: [UUID] = []
        var i = start
        while i < start + count {
            let batch = (i..<min(i + 4, start + count)).map { k in
                event("stream-\(k % 11)", "Type\(k % 3)", id: UUID(), data: #"{"k":\#(k),"text":"\#(String(repeating: "abc", count: k % 17))"}"#)
            }
            ids += batch.map { $0.id! }
            try j.append(batch)
            i += batch.count
        }
        return ids
    }

    private func segmentHeaderVersions() throws -> [UInt16] {
        try dir.segmentFiles().map { name in
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file(name))))
            return bytes.getInteger(at: 10, as: UInt16.self)
        }
    }

    private func totalSegmentBytes() -> Int {
        dir.segmentFiles().reduce(0) { $0 + Int((try? Journal.fileSize(dir.file($1))) ?? 0) }
    }

    @Test func closingPacksEverySealedSegmentAndEveryReadAnswersAsBefore() throws {
        let plain = TemporaryDirectory("unpacked")
        let a = try Journal.open(directory: plain.path, options: options(packing: nil))
        let b = try Journal.open(directory: dir.path, options: options(packing: packing))
        // The same events in both journals, ids included.
        var events: [[ProposedEvent]] = []
        for k in stride(from: 0, to: 600, by: 4) {
            events.append((k..<(k + 4)).map { i in
                event("stream-\(i % 11)", "Type\(i % 3)", id: UUID(), data: #"{"k":\#(i),"text":"\#(String(repeating: "abc", count: i % 17))"}"#)
            })
        }
        for batch in events {
            try a.append(batch)
            try b.append(batch)
        }
        #expect(b.segmentCount > 3)
        #expect(b.packer.waitUntilIdle(timeout: 30))
        // Reads while open, through the packed segments' indexes.
        #expect(try b.readAll(limit: 10_000).map(\.id) == events.flatMap { $0 }.map(\.id))
        for batch in events.enumerated() where batch.offset % 7 == 0 {
            for e in batch.element {
                #expect(try b.event(id: e.id!)?.stream == e.stream)
            }
        }
        for s in 0..<11 {
            #expect(try b.readStream("stream-\(s)", from: 0, limit: 1_000).map(\.id) == a.readStream("stream-\(s)", from: 0, limit: 1_000).map(\.id))
            #expect(try b.readStream("stream-\(s)", direction: .backwards, limit: 3).map(\.id)
                    == a.readStream("stream-\(s)", direction: .backwards, limit: 3).map(\.id))
        }
        #expect(b.head == a.head.with(journalID: b.journalID))
        a.close()
        b.close()

        let versions = try segmentHeaderVersions()
        #expect(versions.dropLast().allSatisfy { $0 == JournalFormat.packedVersion })
        #expect(versions.last == 1)
        #expect(totalSegmentBytes() < plain.segmentFiles().reduce(0) { $0 + Int((try? Journal.fileSize(plain.file($1))) ?? 0) })

        // Reopened: the packed segments' indexes are trusted as written, and verification agrees.
        let again = try Journal.open(directory: dir.path, options: options(packing: packing))
        #expect(again.recovery.rebuiltIndexes.isEmpty)
        #expect(try again.readAll(from: 100, limit: 50).map(\.id) == Array(events.flatMap { $0 }.map(\.id)[100..<150]))
        again.close()
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.isEmpty)
        #expect(report.eventCount == 600)
        #expect(try JournalReader(directory: dir.path).read().map(\.id) == events.flatMap { $0 }.map(\.id))
    }

    @Test func aPackedSegmentsIndexIsByteForByteWhatARebuildFromItWouldWrite() throws {
        let j = try Journal.open(directory: dir.path, options: options(packing: packing))
        try write(j, count: 500)
        j.close()
        var frontier = MerkleFrontier()
        for name in dir.segmentFiles().dropLast() {
            let file = try FileDescriptor.open(dir.file(name), flags: O_RDONLY)
            let header = try Journal.readHeader(file, name: name)
            #expect(header.minimumReaderVersion == JournalFormat.packedVersion)
            let contents = try Journal.indexContents(scanning: file, name: name, header: header, frontier: frontier, options: options(packing: nil))
            let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("index/" + name.replacingOccurrences(of: ".seg", with: ".idx")))))
            #expect(written == SegmentIndex.encode(contents), "\(name)")
            frontier = contents.merkle
        }
    }

    @Test func theThreadThatPacksTakesTheLowestCPUPrioritySoAppendsGoFirst() throws {
        let result = Mutex<(refused: Int32, nice: Int32)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let refused = SegmentPacker.makeCurrentThreadBackground()
            errno = 0
            // On Linux, PRIO_PROCESS with 0 names the calling thread.
            let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            result.withLock { $0 = (refused, nice) }
            done.signal()
        }
        thread.start()
        done.wait()
        let r = try #require(result.withLock { $0 })
        #expect(r.refused & 1 == 0)
        #expect(r.nice == 19)
        // The calling thread is untouched.
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) != 19)
    }

    @Test func aJournalWrittenWithoutPackingIsPackedWhenOpenedWithIt() throws {
        let j = try Journal.open(directory: dir.path, options: options(packing: nil))
        let ids = try write(j, count: 400)
        j.close()
        #expect(try segmentHeaderVersions().allSatisfy { $0 == 1 })
        let packed = try Journal.open(directory: dir.path, options: options(packing: packing))
        #expect(packed.packer.waitUntilIdle(timeout: 30))
        // Appends go on while and after the older segments are packed.
        let more = try write(packed, count: 100, from: 400)
        packed.close()
        #expect(try segmentHeaderVersions().dropLast().allSatisfy { $0 == JournalFormat.packedVersion })
        #expect(try JournalReader(directory: dir.path).read().map(\.id) == ids + more)
        #expect(try JournalVerifier.verify(directory: dir.path).findings.isEmpty)
    }

    /// The two renames of a pack are not one atomic step: each crash point must open cleanly.
    @Test func anIndexAndSegmentFromDifferentLayoutsAreRebuiltNotTrusted() throws {
        let plain = TemporaryDirectory("unpacked")
        let j = try Journal.open(directory: plain.path, options: options(packing: nil))
        let ids = try write(j, count: 300)
        j.close()
        try FileManager.default.removeItem(atPath: dir.path)
        try FileManager.default.copyItem(atPath: plain.path, toPath: dir.path)
        let p = try Journal.open(directory: dir.path, options: options(packing: packing))
        p.close()
        #expect(try segmentHeaderVersions() == [2, 2] + [UInt16](repeating: 2, count: dir.segmentFiles().count - 3) + [1])
        let sealedName = dir.segmentFiles()[1]
        let indexName = "index/" + sealedName.replacingOccurrences(of: ".seg", with: ".idx")

        let unpackedIndex = try Data(contentsOf: URL(fileURLWithPath: plain.file(indexName)))
        let packedIndex = try Data(contentsOf: URL(fileURLWithPath: dir.file(indexName)))
        #expect(unpackedIndex != packedIndex)
        // A crash after the index rename leaves a packed index beside the unpacked segment (in
        // `plain`); the reverse mix (in `mixed`) is what renaming in the other order would leave.
        try packedIndex.write(to: URL(fileURLWithPath: plain.file(indexName)))
        let mixed = TemporaryDirectory("mixed")
        try FileManager.default.removeItem(atPath: mixed.path)
        try FileManager.default.copyItem(atPath: dir.path, toPath: mixed.path)
        try unpackedIndex.write(to: URL(fileURLWithPath: mixed.file(indexName)))

        for (label, d) in [("packed index", plain), ("unpacked index", mixed)] {
            // An offline reader skips the mismatched index instead of reading garbage at its offsets.
            #expect(try JournalReader(directory: d.path).read(from: 150).map(\.id) == Array(ids[150...]))
            let reopened = try Journal.open(directory: d.path, options: options(packing: nil))
            #expect(reopened.recovery.rebuiltIndexes == [sealedName], "\(label)")
            #expect(try reopened.readAll(from: 0, limit: 1_000).map(\.id) == ids)
            #expect(try reopened.event(id: ids[200])?.position == 200)
            reopened.close()
            #expect(try JournalVerifier.verify(directory: d.path).findings.isEmpty)
        }
    }

    @Test func aPackedCopyThatACrashLeftBehindIsRemovedOnOpen() throws {
        let j = try Journal.open(directory: dir.path, options: options(packing: nil))
        let ids = try write(j, count: 200)
        j.close()
        let leftover = dir.file(dir.segmentFiles()[0] + ".packing")
        try Data("half a packed segment".utf8).write(to: URL(fileURLWithPath: leftover))
        let reopened = try Journal.open(directory: dir.path, options: options(packing: nil))
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(try reopened.readAll(limit: 1_000).map(\.id) == ids)
        reopened.close()
    }

    @Test func aDamagedBlockIsReportedWhereItIsAndNeverRead() throws {
        let j = try Journal.open(directory: dir.path, options: options(packing: packing))
        try write(j, count: 400)
        j.close()
        let name = dir.segmentFiles()[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file(name))))
        #expect(Array(bytes[128..<132]) == Array("RGBK".utf8))
        // A byte inside the second block's stored content.
        let secondBlock = 128 + 64 + Int(bytes.getInteger(at: 128 + 4, as: UInt32.self))
        #expect(Array(bytes[secondBlock..<(secondBlock + 4)]) == Array("RGBK".utf8))
        bytes[secondBlock + 64 + 10] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file(name)))

        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.file == name && $0.offset == UInt64(secondBlock) && $0.kind == .badChecksum })
        #expect(throws: JournalError.self) { try JournalReader(directory: dir.path).read() }
        #expect(throws: JournalError.self) { try Journal.open(directory: dir.path, options: options(packing: nil)) }
    }

    @Test func aReaderInTheMiddleOfASegmentKeepsReadingItWhileItIsPacked() throws {
        let j = try Journal.open(directory: dir.path, options: options(packing: nil))
        let ids = try write(j, count: 400)
        j.close()
        let live = try Journal.open(directory: dir.path, options: options(packing: nil))
        defer { live.close() }
        var read: [UUID] = []
        try JournalReader(directory: dir.path).forEachEvent { view in
            read.append(view.id)
            if read.count == 3 {
                // Pack the segment this reader has open, under it.
                let packed = try live.packSealedSegment(firstPosition: 0, packing: packing, shouldStop: { false })
                #expect(packed)
            }
            return true
        }
        #expect(read == ids)
        #expect(try live.readAll(limit: 1_000).map(\.id) == ids)
    }
}

extension JournalHead {
    func with(journalID id: UUID) -> JournalHead {
        var h = self
        h.journalID = id
        return h
    }
}

/// What a block does to records must be undone exactly, and only what it does.
@Suite struct BlockRecordsTests {
    private func payload(times: [Int64], firstPosition: UInt64) -> [UInt8] {
        var w = ByteWriter()
        for (k, t) in times.enumerated() {
            RecordCodec.append(position: firstPosition + UInt64(k), version: UInt64(k), id: UUID(), recordedAtMicros: t, endsAppend: k == times.count - 1,
                               stream: "s-\(k % 2)", type: "T", metadata: Array("{}".utf8), data: Array(#"{"k":\#(k)}"#.utf8), to: &w)
        }
        return w.bytes
    }

    @Test func encodingThenDecodingGivesBackTheSameBytes() {
        // Times that go back, jump, and sit at the extremes: differences wrap, values do not.
        let original = payload(times: [1_700_000_000_000_000, 1_700_000_000_000_000, 5, .max, .min, 0], firstPosition: 1_000)
        var bytes = original
        bytes.withUnsafeMutableBytes { BlockRecords.encode($0, eventCount: 6) }
        #expect(bytes != original)
        let reason = bytes.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 1_000, eventCount: 6) }
        #expect(reason == nil)
        #expect(bytes == original)
    }

    @Test func aNonZeroPositionOrARecordPastThePayloadIsRefused() {
        var bytes = payload(times: [1, 2, 3], firstPosition: 7)
        bytes.withUnsafeMutableBytes { BlockRecords.encode($0, eventCount: 3) }
        var withPosition = bytes
        withPosition[4] = 1
        #expect(withPosition.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 7, eventCount: 3) } != nil)
        var tooMany = bytes
        #expect(tooMany.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 7, eventCount: 4) } != nil)
        var tooFew = bytes
        #expect(tooFew.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 7, eventCount: 2) } != nil)
    }
}
