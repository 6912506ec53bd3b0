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

    /// A frame's CRC and the index's checksums can all be recomputed over a crafted event count,
    /// so nothing before packing has walked the records: the packer must, and a segment it
    /// cannot pack stays as it is, reported, while appends go on.
    /// Writes 300 events unpacked, then makes the first segment's second frame claim 4,294,967,000
    /// events with every checksum matching again, so packing that segment fails (and nothing else).
    private func writeWithAnUnpackableFirstSegment() throws -> (ids: [UUID], name: String, bytes: [UInt8], frame: Int) {
        let j = try Journal.open(directory: dir.path, options: options(packing: nil))
        let ids = try write(j, count: 300)
        j.close()
        let name = dir.segmentFiles()[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file(name))))
        // The second frame claims 4,294,967,000 events; its CRC is made to match again.
        let frame = 128 + 64 + Int(bytes.getInteger(at: 128 + 4, as: UInt32.self))
        #expect(Array(bytes[frame..<(frame + 4)]) == Array("RGFR".utf8))
        let stored = Int(bytes.getInteger(at: frame + 4, as: UInt32.self))
        put(UInt32(4_294_967_000), at: frame + 24, in: &bytes)
        put(CRC32C.checksum(Array(bytes[(frame + 64)..<(frame + 64 + stored)]), extending: CRC32C.checksum(Array(bytes[frame..<(frame + 60)]))),
            at: frame + 60, in: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file(name)))
        // And the index agrees with the crafted segment: its segment checksum, then its own CRC.
        let indexPath = dir.file("index/" + name.replacingOccurrences(of: ".seg", with: ".idx"))
        var index = try [UInt8](Data(contentsOf: URL(fileURLWithPath: indexPath)))
        put(CRC32C.checksum(bytes), at: 104, in: &index)
        put(CRC32C.checksum(Array(index[128...]), extending: CRC32C.checksum(Array(index[0..<124]))), at: 124, in: &index)
        try Data(index).write(to: URL(fileURLWithPath: indexPath))
        return (ids, name, bytes, frame)
    }

    @Test func aSealedSegmentWhoseFrameClaimsMoreEventsThanItHoldsStaysUnpackedAndIsReported() throws {
        let (ids, name, bytes, frame) = try writeWithAnUnpackableFirstSegment()
        let logged = Mutex<[String]>([])
        var o = options(packing: packing)
        o.log = { line in logged.withLock { $0.append(line) } }
        let packed = try Journal.open(directory: dir.path, options: o)
        #expect(packed.packer.waitUntilIdle(timeout: 30))
        let more = try write(packed, count: 40, from: 300)
        packed.close()

        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file(name)))) == bytes, "the segment must stay as it was")
        #expect(!FileManager.default.fileExists(atPath: dir.file(name) + ".packing"))
        let versions = try segmentHeaderVersions()
        #expect(versions[0] == 1)
        #expect(versions.dropFirst().dropLast().allSatisfy { $0 == JournalFormat.packedVersion }, "the other segments are packed")
        let reports = logged.withLock { $0 }.filter { $0.contains("packing") }
        #expect(reports.count == 1, "\(reports)")
        #expect(reports.first.map { $0.contains(name) && $0.contains("at byte \(frame)") && $0.contains("4294967000 events") } == true, "\(reports)")
        // The events after the crafted segment, those appended since included, read as before.
        let reopened = try Journal.open(directory: dir.path, options: options(packing: nil))
        #expect(try reopened.readAll(from: 100, limit: 1_000).map(\.id) == Array((ids + more)[100...]))
        reopened.close()
    }

    /// A journal dropped without `close()` while its packer thread holds it is released by that
    /// thread, so its `deinit` runs there: it must not wait for the packer to stop (it would wait
    /// for itself, keep the journal's lock forever, and leave the directory unopenable).
    @Test func aJournalDroppedWhileItsPackerHoldsItIsReleasedOnThePackerThreadWithoutWaitingForItself() throws {
        _ = try writeWithAnUnpackableFirstSegment()
        // The packer reports the failed segment while it holds the journal: hold it there until
        // the test has let go of its own reference.
        let reached = DispatchSemaphore(value: 0), proceed = DispatchSemaphore(value: 0)
        var o = options(packing: packing)
        o.log = { line in
            guard line.contains("packing the segment") else { return }
            reached.signal()
            _ = proceed.wait(timeout: .now() + 30)
        }
        func openAndDrop() throws {
            let journal = try Journal.open(directory: dir.path, options: o)
            withExtendedLifetime(journal) { #expect(reached.wait(timeout: .now() + 30) == .success, "the packer never reported the segment") }
        }
        try openAndDrop()
        proceed.signal()
        // The packer lets go: the journal goes, and its lock with it.
        var reopened: Journal?
        let deadline = Date().addingTimeInterval(10)
        while reopened == nil, Date() < deadline {
            do { reopened = try Journal.open(directory: dir.path, options: options(packing: nil)) } catch JournalError.locked { usleep(20_000) }
        }
        #expect(reopened != nil, "the dropped journal still holds its lock: its deinit did not finish")
        reopened?.close()
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

private func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
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
        #expect(bytes.withUnsafeMutableBytes { BlockRecords.encode($0, eventCount: 6) } == nil)
        #expect(bytes != original)
        let reason = bytes.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 1_000, eventCount: 6) }
        #expect(reason == nil)
        #expect(bytes == original)
    }

    @Test func aNonZeroPositionOrARecordPastThePayloadIsRefused() {
        var bytes = payload(times: [1, 2, 3], firstPosition: 7)
        #expect(bytes.withUnsafeMutableBytes { BlockRecords.encode($0, eventCount: 3) } == nil)
        var withPosition = bytes
        withPosition[4] = 1
        #expect(withPosition.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 7, eventCount: 3) } != nil)
        var tooMany = bytes
        #expect(tooMany.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 7, eventCount: 4) } != nil)
        var tooFew = bytes
        #expect(tooFew.withUnsafeMutableBytes { BlockRecords.decode($0, firstPosition: 7, eventCount: 2) } != nil)
    }

    /// A frame's event count and record lengths come from a file: encoding walks them as decoding
    /// does, and refuses what the payload cannot hold without writing a byte outside it.
    @Test func encodingRefusesACountOrLengthThePayloadCannotHoldAndWritesNothingOutsideIt() {
        let records = payload(times: [1, 2, 3], firstPosition: 7)
        let guardBytes = [UInt8](repeating: 0xA5, count: 4_096)
        func encode(_ records: [UInt8], eventCount: UInt32) -> (reason: String?, after: [UInt8]) {
            var buffer = records + guardBytes
            let reason = buffer.withUnsafeMutableBytes {
                BlockRecords.encode(UnsafeMutableRawBufferPointer(rebasing: $0[0..<records.count]), eventCount: eventCount)
            }
            return (reason, Array(buffer[records.count...]))
        }
        let tooMany = encode(records, eventCount: 4_294_967_000)
        #expect(tooMany.reason == "the frame says 4294967000 events, its payload holds 3 records")
        #expect(tooMany.after == guardBytes)
        #expect(encode(records, eventCount: 2).reason != nil, "records left over")
        var longSecond = records
        let second = Int(records.getInteger(at: 0, as: UInt32.self)) + 4
        longSecond.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(0xFFFF_FFF0).littleEndian, toByteOffset: second, as: UInt32.self) }
        let long = encode(longSecond, eventCount: 3)
        #expect(long.reason == "record 1 of the frame has length \(0xFFFF_FFF0)")
        #expect(long.after == guardBytes)
        var shortLast = records
        shortLast.removeLast(records.count - second - 20)
        let short = encode(shortLast, eventCount: 3)
        #expect(short.reason != nil)
        #expect(short.after == guardBytes)
    }
}
