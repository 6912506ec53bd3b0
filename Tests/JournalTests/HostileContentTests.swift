import Foundation
import Testing
@testable import Journal

/// Files whose checksums hold but whose content lies, and options that disagree with the files:
/// none may make the journal trap, cut an acknowledged frame, or hand out a version twice.
@Suite struct HostileContentTests {
    /// Rewrites an index file's own CRC (bytes 124..<128 cover the rest of the file).
    private func resealIndex(_ bytes: inout [UInt8]) {
        var crc = CRC32C.checksum(Array(bytes[0..<124]))
        crc = CRC32C.checksum(Array(bytes[128...]), extending: crc)
        withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { bytes[124 + i] = b } }
    }

    private func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    private func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    @Test func aFrameWrittenUnderLargerLimitsIsKeptWhenReopenedWithTheDefaults() throws {
        let dir = TemporaryDirectory()
        var large = testOptions()
        large.limits.maximumAppendBytes = 32 << 20
        let pad = String(repeating: "r", count: 900_000)
        do {
            let j = try Journal.open(directory: dir.path, options: large)
            try j.append([event("small")])
            // 22 events of 0.9 MiB: a 19 MiB payload, over what the default limits allow a frame.
            try j.append((0..<22).map { event("big", data: #"{"i":\#($0),"pad":"\#(pad)"}"#) })
            j.close()
        }
        let reopened = try Journal.open(directory: dir.path, options: testOptions())
        #expect(reopened.recovery.truncations.isEmpty, "\(reopened.recovery.truncations)")
        #expect(reopened.endPosition == 23)
        #expect(try reopened.readStream("big").count == 22)
        reopened.close()
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        #expect(try JournalReader(directory: dir.path).read().count == 23)
    }

    @Test func optionsWhoseFramesWouldPassTheFormatsBoundAreRefusedByName() throws {
        let dir = TemporaryDirectory()
        var options = testOptions()
        options.limits.maximumAppendBytes = 100 << 20
        #expect { try Journal.open(directory: dir.path, options: options) } throws: { error in
            guard case JournalError.invalidOptions(let reason) = error else { return false }
            return reason.contains("maximumAppendBytes")
        }
        options = testOptions()
        options.maximumFrameBytes = 80 << 20
        #expect { try Journal.open(directory: dir.path, options: options) } throws: { error in
            guard case JournalError.invalidOptions(let reason) = error else { return false }
            return reason.contains("maximumFrameBytes")
        }
    }

    @Test func aChecksummedFrameThatDoesNotDecompressIsDamageAndNothingIsCut() throws {
        let (dir, path, original, offsets) = try journalEndingInACompressedFrame()
        var bytes = original
        let last = try #require(offsets.last)
        #expect(bytes[last + 12] == FrameHeader.Codec.zstd.rawValue)
        // The zstd frame's magic number: nothing decodes it any more.
        for k in 0..<4 { bytes[last + 64 + k] ^= 0x5A }
        resealFrame(&bytes, at: last)
        try write(bytes, path)

        #expect { try Journal.open(directory: dir.path, options: testOptions()) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badCompression && damage.offset == UInt64(last)
        }
        #expect(try read(path) == bytes, "the frame was not cut as a torn tail")
        // Verification and readers say the same: damage, not the end of a write in progress.
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(!report.isClean)
        #expect(report.findings.contains { $0.kind == .badCompression && $0.offset == UInt64(last) }, "\(report.findings) \(report.notes)")
        #expect { try JournalReader(directory: dir.path).read() } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badCompression && damage.offset == UInt64(last)
        }
    }

    /// A frame whose CRC fails, then only a frame whose CRC holds but which does not decode: the
    /// second was written whole, so the first is damage in the middle of the log, not a torn tail
    /// that recovery may cut (and take the checksummed frame with it).
    @Test func badBytesBeforeAChecksummedButUndecodableFrameAreDamageNotATornTail() throws {
        let (dir, path, original, offsets) = try journalEndingInACompressedFrame()
        var bytes = original
        try #require(offsets.count >= 3)
        let last = offsets[offsets.count - 1], before = offsets[offsets.count - 2]
        #expect(bytes[last + 12] == FrameHeader.Codec.zstd.rawValue)
        for k in 0..<4 { bytes[last + 64 + k] ^= 0x5A }
        resealFrame(&bytes, at: last)
        bytes[before + 64 + 2] ^= 0xFF
        try write(bytes, path)

        #expect { try Journal.open(directory: dir.path, options: testOptions()) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badChecksum && damage.offset == UInt64(before)
        }
        #expect(try read(path) == bytes, "nothing was cut as a torn tail")
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.kind == .badChecksum && $0.offset == UInt64(before) }, "\(report.findings) \(report.notes)")
        #expect { try JournalReader(directory: dir.path).read() } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.offset == UInt64(before)
        }
    }

    /// A journal of 20 small events then an append that zstd compresses, closed: its directory,
    /// its segment's path and bytes, and the offsets of its frames.
    private func journalEndingInACompressedFrame() throws -> (dir: TemporaryDirectory, path: String, bytes: [UInt8], offsets: [Int]) {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        try fill(j, count: 20)
        try j.append((0..<5).map { event("last", data: #"{"i":\#($0),"text":"\#(String(repeating: "abc", count: 200))"}"#) })
        j.close()
        let path = dir.file(dir.segmentFiles()[0])
        let bytes = try read(path)
        return (dir, path, bytes, frameOffsets(bytes))
    }

    /// A frame of no events, checksummed and chained after the last one: no writer makes it, and
    /// it would move the chain head without an event, so it is damage (not a torn tail to cut).
    @Test func aChecksummedFrameOfNoEventsIsDamage() throws {
        let dir = TemporaryDirectory()
        let end: UInt64
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try fill(j, count: 10)
            end = j.endPosition
            j.close()
        }
        let path = dir.file(dir.segmentFiles()[0])
        var bytes = try read(path)
        let last = try #require(frameOffsets(bytes).last)
        let at = last + 64 + Int(bytes.getInteger(at: last + 4, as: UInt32.self))
        let previous = Digest32(bytes: Array(bytes[(last + 28)..<(last + 60)]))
        let chain = FrameHeader.chainHash(previous: previous, firstPosition: end, eventCount: 0, payload: UnsafeRawBufferPointer(start: nil, count: 0))
        var frame = FrameHeader(storedLength: 0, payloadLength: 0, codec: .none, firstPosition: end, eventCount: 0, chainHash: chain).encodedWithoutChecksum()
        withUnsafeBytes(of: CRC32C.checksum(frame).littleEndian) { frame.append(contentsOf: $0) }
        if bytes.count < at + 64 { bytes += [UInt8](repeating: 0, count: at + 64 - bytes.count) }
        bytes.replaceSubrange(at..<(at + 64), with: frame)
        try write(bytes, path)

        #expect { try Journal.open(directory: dir.path, options: testOptions()) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.offset == UInt64(at)
        }
        #expect(try read(path) == bytes, "nothing was cut")
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.offset == UInt64(at) }, "\(report.findings) \(report.notes)")
    }

    /// A zstd payload must be exactly one zstd frame (FORMAT.md): libzstd would skip a skippable
    /// frame put in front of it, a reader in another language need not.
    @Test func aPayloadOfMoreThanOneZstdFrameIsDamage() throws {
        let dir = TemporaryDirectory()
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try j.append((0..<5).map { event("s", data: #"{"i":\#($0),"text":"\#(String(repeating: "abc", count: 200))"}"#) })
            j.close()
        }
        let path = dir.file(dir.segmentFiles()[0])
        var bytes = try read(path)
        let last = try #require(frameOffsets(bytes).last)
        #expect(bytes[last + 12] == FrameHeader.Codec.zstd.rawValue)
        let stored = Int(bytes.getInteger(at: last + 4, as: UInt32.self))
        // A skippable frame of no content (magic 0x184D2A50, length 0) before the zstd frame.
        bytes.insert(contentsOf: [0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0], at: last + 64)
        withUnsafeBytes(of: UInt32(stored + 8).littleEndian) { for (i, b) in $0.enumerated() { bytes[last + 4 + i] = b } }
        resealFrame(&bytes, at: last)
        try write(bytes, path)

        #expect { try Journal.open(directory: dir.path, options: testOptions()) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badCompression && damage.offset == UInt64(last)
        }
        #expect(try read(path) == bytes, "nothing was cut")
    }

    /// A sealed segment of stream "s" and others, with its index; returns the index path.
    private func sealedJournal(_ dir: TemporaryDirectory) throws -> String {
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never))
        for i in 0..<7 { try j.append([event("s", data: #"{"i":\#(i)}"#), event("other-\(i)")]) }
        while j.segmentCount < 2 { try j.append([event("filler")]) }
        j.close()
        let index = dir.path + "/index/" + JournalFormat.indexName(firstPosition: 0)
        #expect(FileManager.default.fileExists(atPath: index))
        return index
    }

    /// Sets the first version of stream "s" in the index, keeping the index's checksum right.
    private func setFirstVersion(of stream: String, to version: UInt64, inIndex path: String) throws {
        var bytes = try read(path)
        let hash = withUnsafeBytes(of: IndexHash.hash(stream).littleEndian) { Array($0) }
        let entries = (128..<(bytes.count - 8)).filter { bytes[$0..<($0 + 8)].elementsEqual(hash) }
        let entry = try #require(entries.first, "the stream's entry is in the index")
        withUnsafeBytes(of: version.littleEndian) { for (i, b) in $0.enumerated() { bytes[entry + 8 + i] = b } }
        resealIndex(&bytes)
        try write(bytes, path)
    }

    /// The writer takes its clock floor from the last sealed index: an index claiming a later
    /// last time (its checksum made right again) would have every new event stamped with it, so
    /// verification reports it.
    @Test func anIndexWhoseLastRecordedTimeWasMovedIsReportedByVerification() throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        var bytes = try read(index)
        let recorded = bytes.getInteger(at: 88, as: Int64.self)
        withUnsafeBytes(of: (recorded + 7_200_000_000).littleEndian) { for (i, b) in $0.enumerated() { bytes[88 + i] = b } }
        resealIndex(&bytes)
        try write(bytes, index)
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.kind == .badIndex && $0.detail.contains("last recorded time") }, "\(report.findings)")
    }

    /// A stream read takes positions from the index, which confirms only a run's last event:
    /// an index whose run gives other versions (its checksum made right) is damage when read,
    /// never another version's event handed out as the one asked for.
    @Test func aStreamReadThroughAnIndexThatMisplacesVersionsIsDamage() throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        try setFirstVersion(of: "s", to: 3, inIndex: index)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never))
        defer { j.close() }
        #expect { try j.readStream("s", from: 5) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badIndex && damage.detail.contains("version 5 of stream 's'")
        }
    }

    /// An index whose frame table sends a position to a later frame (checksum made right) would
    /// have a whole-journal read skip events silently: it is damage.
    @Test func aReadThroughAnIndexThatSkipsAFrameIsDamageNotASilentGap() throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        var bytes = try read(index)
        // The frame table: (first position, offset) pairs from byte 128. Frame 1 is sent to frame 2's offset.
        let secondFirst = bytes.getInteger(at: 128 + 16, as: UInt64.self)
        let thirdOffset = bytes.getInteger(at: 128 + 32 + 8, as: UInt64.self)
        withUnsafeBytes(of: thirdOffset.littleEndian) { for (i, b) in $0.enumerated() { bytes[128 + 16 + 8 + i] = b } }
        resealIndex(&bytes)
        try write(bytes, index)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never))
        defer { j.close() }
        #expect { try j.readAll(from: secondFirst) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badIndex && damage.position == secondFirst
        }
    }

    /// The open segment's name is where its table and every lookup start: a name that says
    /// another position than the journal has reached (a file renamed) is damage at open, not a
    /// trap on the first read (it indexed an empty list of sealed segments).
    @Test func anOpenSegmentWhoseNameDisagreesWithItsHeaderIsDamageAtOpen() throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        for i in 0..<5 { try j.append([event("s", data: #"{"i":\#(i)}"#)]) }
        j.close()
        let only = try #require(dir.segmentFiles().first)
        try FileManager.default.moveItem(atPath: dir.file(only), toPath: dir.file(JournalFormat.segmentName(firstPosition: 100)))
        #expect { try Journal.open(directory: dir.path, options: testOptions()) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .positionGap && damage.detail.contains("100")
        }
        #expect(!(try JournalVerifier.verify(directory: dir.path).isClean))
    }

    /// Frame tables that are out of order, start elsewhere, or point outside the segment (the
    /// checksum made right) are refused when the index is opened: the writer then rebuilds it
    /// from the segment, and the reader reports it, rather than reading by a table that lies.
    @Test(arguments: [("backwards", 0), ("beforeTheSegment", 1), ("pastTheSegment", 2), ("notAtTheFirstPosition", 3)])
    func anIndexWhoseFrameTableLiesIsRefused(label: String, mutation: Int) throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        var bytes = try read(index)
        func put(_ value: UInt64, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
        }
        switch mutation {
        case 0: put(bytes.getInteger(at: 128 + 32, as: UInt64.self), at: 128 + 16)  // frame 1 at frame 2's position
        case 1: put(16, at: 128 + 16 + 8)  // frame 1 inside the segment header
        case 2: put(1 << 40, at: 128 + 16 + 8)  // frame 1 past the end of the segment
        default: put(1, at: 128)  // frame 0 not at the segment's first position
        }
        resealIndex(&bytes)
        try write(bytes, index)
        #expect { try SegmentIndex(path: index, name: "index") } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badIndex && damage.detail.contains("frame")
        }
        // The journal still opens (the writer rebuilds an index it cannot use) and reads every event.
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never))
        defer { j.close() }
        #expect(try j.readAll(from: 0, limit: 10_000).map(\.position) == Array(0..<j.endPosition), "\(label)")
    }

    /// Seeded rounds of random bytes in a sealed segment's index, its checksum made right each
    /// time: opening and reading must refuse the index, or read through it, and never trap (a
    /// trap would end this test process), never hand out an event as another's. What is read by
    /// position is the log; what is read by stream is that stream's, in version order.
    @Test func randomlyAlteredIndexesWithSoundChecksumsNeverTrapNorMisread() throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        let original = try read(index)
        let log = try JournalReader(directory: dir.path).read()
        let streams = Set(log.map(\.stream)).sorted()
        var random = SplitMix(state: 0x1DE5)
        func next() -> UInt64 { random.next() }
        var refused = 0, readThrough = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + Int(next() % 4)) {
                let at = 10 + Int(next() % UInt64(bytes.count - 10))
                guard !(124..<128).contains(at) else { continue }
                bytes[at] = UInt8(truncatingIfNeeded: next())
            }
            resealIndex(&bytes)
            try write(bytes, index)
            guard let j = try? Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never)) else {
                refused += 1
                try write(original, index)
                continue
            }
            if let all = try? j.readAll(from: 0, limit: 10_000) {
                #expect(all.map(\.id) == log.map(\.id), "a read by position handed out other events")
            }
            for stream in streams {
                guard let events = try? j.readStream(stream) else { continue }
                #expect(events.allSatisfy { $0.stream == stream }, "a read of '\(stream)' handed out another stream's event")
                #expect(events.map(\.version) == Array(0..<UInt64(events.count)).map { $0 + (events.first?.version ?? 0) },
                        "a read of '\(stream)' handed out versions out of order")
                if let later = try? j.readStream(stream, from: 1), let first = later.first {
                    #expect(first.version == 1 && first.stream == stream, "a read of '\(stream)' from version 1 began at \(first.stream) version \(first.version)")
                }
            }
            for e in log.prefix(6) { _ = try? j.event(id: e.id) }
            _ = j.lastVersion(of: streams[0])
            readThrough += 1
            j.close()
            try write(original, index)
        }
        #expect(refused + readThrough == 400)
    }

    @Test func anIndexWhoseStreamVersionsOverflowIsDamageNotATrap() throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        try setFirstVersion(of: "s", to: UInt64.max - 1, inIndex: index)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never))
        defer { j.close() }
        let before = j.endPosition
        #expect { try j.append([event("s")], expecting: ["s": .any]) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badIndex
        }
        #expect(j.endPosition == before)
    }

    @Test func anIndexWhoseStreamVersionsDisagreeWithItsEventsIsDamageNotADuplicateVersion() throws {
        let dir = TemporaryDirectory()
        let index = try sealedJournal(dir)
        try setFirstVersion(of: "s", to: 3, inIndex: index)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500, check: .never))
        defer { j.close() }
        let before = j.endPosition
        #expect { try j.append([event("s")]) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badIndex && damage.detail.contains("'s'")
        }
        #expect(j.endPosition == before, "no event was given a version the index made up")
    }

    /// A journal of one uncompressed frame of one event, whose record `forge` changes (given the
    /// record's offset in the file); the chain hash and CRC are made to agree, as a forger would.
    private func forgedRecord(_ dir: TemporaryDirectory, options: JournalOptions, _ forge: (inout [UInt8], Int) -> Void) throws {
        let j = try Journal.open(directory: dir.path, options: options)
        try j.append([event("s")])
        j.close()
        let path = dir.file(dir.segmentFiles()[0])
        var bytes = try read(path)
        let frame = JournalFormat.segmentHeaderSize
        let payloadLength = Int(bytes.getInteger(at: frame + 8, as: UInt32.self))
        let record = frame + 64
        forge(&bytes, record)
        let header = try bytes.withUnsafeBytes { try SegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<JournalFormat.segmentHeaderSize])) }
        let chain = bytes.withUnsafeBytes {
            FrameHeader.chainHash(previous: header.previousChainHash, firstPosition: 0, eventCount: 1,
                                  payload: UnsafeRawBufferPointer(rebasing: $0[record..<(record + payloadLength)]))
        }
        for (i, b) in chain.bytes.enumerated() { bytes[frame + 28 + i] = b }
        resealFrame(&bytes, at: frame)
        try write(bytes, path)
    }

    private var uncompressed: JournalOptions {
        var options = testOptions()
        options.compressionLevel = 0
        return options
    }

    @Test func anEventWhoseVersionPassesItsPositionIsDamageWhenOpening() throws {
        let dir = TemporaryDirectory()
        // The record's version (record byte 12) becomes the largest there is.
        try forgedRecord(dir, options: uncompressed) { bytes, record in
            withUnsafeBytes(of: UInt64.max.littleEndian) { for (i, b) in $0.enumerated() { bytes[record + 12 + i] = b } }
        }
        #expect { try Journal.open(directory: dir.path, options: uncompressed) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badRecord && damage.detail.contains("past its position")
        }
    }

    @Test(arguments: [UInt16(0), 2, 3, 0x8001])
    func aFrameWhoseRecordFlagsAreNotTheFormatsIsDamageToTheWriterAndTheVerifier(flags: UInt16) throws {
        let dir = TemporaryDirectory()
        // Record bytes 44..<46: bit 0 ends the append, and a frame's last record must end one.
        try forgedRecord(dir, options: uncompressed) { bytes, record in
            withUnsafeBytes(of: flags.littleEndian) { for (i, b) in $0.enumerated() { bytes[record + 44 + i] = b } }
        }
        #expect { try Journal.open(directory: dir.path, options: uncompressed) } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .badRecord
        }
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.map(\.kind) == [.badRecord], "\(report.findings)")
    }

    @Test func aRetryWhoseEventCannotBeReadIsRefusedAsDamageNotWrittenTwice() throws {
        let dir = TemporaryDirectory()
        let id = UUID()
        let options = testOptions(segmentSize: 1_500, check: .never)
        do {
            let j = try Journal.open(directory: dir.path, options: options)
            try j.append([event("s", id: id)])
            while j.segmentCount < 2 { try j.append([event("filler")]) }
            j.close()
        }
        let j = try Journal.open(directory: dir.path, options: options)
        defer { j.close() }
        // The writer learns the stream's version now, so the retry below needs no read for it:
        // only the id lookup stands between the retry and a second copy.
        try j.append([event("s")])
        // Damage after opening, which the open-time check cannot have seen: the first frame's bytes.
        let path = dir.file(dir.segmentFiles()[0])
        var bytes = try read(path)
        bytes[JournalFormat.segmentHeaderSize + 70] ^= 0xFF
        try write(bytes, path)
        let before = j.endPosition

        #expect(throws: JournalError.self) { try j.append([event("s", id: id)]) }
        #expect(j.endPosition == before, "the retry was not stored a second time")
        #expect(throws: JournalError.self) { try j.event(id: id) }
    }
}

/// What opening a journal tidies and makes durable.
@Suite struct OpeningHousekeepingTests {
    @Test func anIndexLeftHalfWrittenUnderItsTemporaryNameIsRemovedAndTheRealOneKept() throws {
        let dir = TemporaryDirectory()
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500))
            while j.segmentCount < 2 { try fill(j, count: 5) }
            j.close()
        }
        let index = dir.path + "/index/" + JournalFormat.indexName(firstPosition: 0)
        let leftover = dir.path + "/index/" + JournalFormat.indexName(firstPosition: 777) + ".tmp"
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: leftover))
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500))
        defer { j.close() }
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(FileManager.default.fileExists(atPath: index))
    }

    @Test func theDirectoriesAJournalCreatesAreListedOutermostFirstSoEachParentIsSynced() throws {
        let dir = TemporaryDirectory()
        let deep = dir.path + "/a/b/journal/index"
        #expect(Journal.directoriesToCreate(deep) == [dir.path + "/a", dir.path + "/a/b", dir.path + "/a/b/journal", deep].map {
            URL(fileURLWithPath: $0).standardizedFileURL.path
        })
        let j = try Journal.open(directory: dir.path + "/a/b/journal", options: testOptions())
        j.close()
        #expect(Journal.directoriesToCreate(deep).isEmpty)
    }
}
