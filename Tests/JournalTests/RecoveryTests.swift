import Foundation
import Testing
@testable import Journal

/// Torn tails are repaired; every other kind of damage is refused and located.
@Suite struct RecoveryTests {
    let dir = TemporaryDirectory()

    /// Writes `bytes` where the next frame would go: after the last frame, over the zeros the
    /// writer preallocated (a torn write lands there, not at the end of the file).
    private func writeAfterLastFrame(_ bytes: [UInt8], in file: String) throws -> (offset: Int, bytesToTruncate: Int) {
        let at = try endOfFrames(file)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try h.seek(toOffset: UInt64(at))
        try h.write(contentsOf: Data(bytes))
        try h.close()
        return (at, try size(file) - at)
    }

    private func flip(byte offset: Int, in file: String, mask: UInt8 = 0x10) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: file))
        data[offset] ^= mask
        try data.write(to: URL(fileURLWithPath: file))
    }

    private func size(_ file: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: file)[.size] as! NSNumber).intValue
    }

    @Test func aTornTailIsTruncatedAndReportedAndAppendsContinue() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try fill(j, count: 10)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles().last!)
        // Half of a frame: a real frame header followed by too few bytes.
        let (good, removed) = try writeAfterLastFrame(Array("RGFR".utf8) + [0xFF, 0x00, 0x00, 0x00] + [UInt8](repeating: 7, count: 40), in: segment)
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        #expect(j.recovery.truncations.count == 1)
        #expect(j.recovery.truncations.first?.offset == UInt64(good))
        #expect(j.recovery.truncations.first?.bytesRemoved == UInt64(removed))
        #expect(j.recovery.truncations.first?.firstPosition == 10)
        #expect(try size(segment) == good)
        #expect(try j.append([event("after")]).firstPosition == 10)
    }

    @Test func garbageAfterTheLastFrameIsATornTail() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try fill(j, count: 3)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles().last!)
        let (_, removed) = try writeAfterLastFrame((0..<5000).map { UInt8(truncatingIfNeeded: $0 * 31) }, in: segment)
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        #expect(j.recovery.truncations.first?.bytesRemoved == UInt64(removed))
        #expect(try j.readAll().count == 3)
    }

    @Test func aBadFrameFollowedByGoodFramesIsRefusedWithItsLocation() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try fill(j, count: 30, perAppend: 1)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles().last!)
        // Flip a byte inside the second frame's payload.
        let frames = try frameOffsets(segment)
        try flip(byte: Int(frames[1]) + 70, in: segment)
        let error = #expect(throws: JournalError.self) { try Journal.open(directory: dir.path, options: testOptions()) }
        guard case .corrupt(let damage)? = error else { Issue.record("expected corruption, got \(String(describing: error))"); return }
        #expect(damage.file == dir.segmentFiles().last!)
        #expect(damage.offset == frames[1])
        #expect(damage.position == 1)
        #expect(try size(segment) > Int(frames[2]), "nothing may be truncated")
    }

    @Test func aFlippedBitAnywhereInASealedSegmentIsFoundAndLocated() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60, perAppend: 3)
            j.close()
        }
        let sealedName = dir.segmentFiles()[0]
        let sealed = dir.file(sealedName)
        let pristine = try Data(contentsOf: URL(fileURLWithPath: sealed))
        let frames = try frameOffsets(sealed)
        // Every byte of the header and of the first frames, then a sample of the rest.
        let offsets = Array(0..<min(pristine.count, 400)) + Array(stride(from: 400, to: pristine.count, by: 37))
        for offset in offsets {
            var data = pristine
            data[offset] ^= 0x01
            try data.write(to: URL(fileURLWithPath: sealed))
            let report = try JournalVerifier.verify(directory: dir.path)
            #expect(!report.isClean, "flip at byte \(offset) went unnoticed")
            let located = report.findings.first { $0.file == sealedName }
            let frameStart = frames.last { $0 <= UInt64(offset) } ?? 0
            #expect(located != nil, "flip at \(offset) not attributed to \(sealedName)")
            if offset >= JournalFormat.segmentHeaderSize, let located {
                #expect(located.offset == frameStart, "flip at \(offset) reported at \(located.offset), frame starts at \(frameStart)")
            }
            #expect(throws: JournalError.self, "opening with a flip at byte \(offset) must fail") {
                try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000)).close()
            }
        }
        try pristine.write(to: URL(fileURLWithPath: sealed))
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    /// `close` returns only once the background check has stopped: it reads the sealed indexes'
    /// mappings, and an index rewritten in place after the lock is released would end the
    /// process with SIGBUS. Here the indexes are cut to nothing right after the close.
    @Test func closeStopsTheBackgroundCheckBeforeReturning() throws {
        do {
            // Many segments, so that the check is still going when close is called.
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, durability: .relaxed))
            try fill(j, count: 20_000, perAppend: 3)
            j.close()
        }
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, check: .inBackground))
        j.close()
        #expect(j.backgroundCheck.wait(timeout: 0), "the background check was still running after close")
        let indexes = dir.path + "/index"
        for name in try FileManager.default.contentsOfDirectory(atPath: indexes) {
            _ = truncate(indexes + "/" + name, 0)
        }
        Thread.sleep(forTimeInterval: 0.2)
    }

    @Test func damageInASealedSegmentFoundInTheBackgroundStopsTheWriterWithItsLocation() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60, perAppend: 3)
            j.close()
        }
        let sealedName = dir.segmentFiles()[1]
        try flip(byte: 300, in: dir.file(sealedName))
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, check: .inBackground))
        defer { j.close() }
        var outcome: (any Error)? = nil
        for _ in 0..<200 {
            do { try j.append([event("later")]) } catch { outcome = error; break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        guard case JournalError.corrupt(let damage)? = outcome else {
            Issue.record("appends kept succeeding on a damaged journal: \(String(describing: outcome))")
            return
        }
        #expect(damage.file == sealedName)
        #expect(damage.offset > 0 && damage.offset <= 300)
    }

    @Test func aTruncatedSealedSegmentIsDamageNotATornTail() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60)
            j.close()
        }
        let sealed = dir.file(dir.segmentFiles()[0])
        let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: sealed))
        try fh.truncate(atOffset: UInt64(try size(sealed) - 10))
        try fh.close()
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.kind == .truncatedSealedSegment && $0.file == dir.segmentFiles()[0] })
        #expect(throws: JournalError.self) { try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000)) }
    }

    @Test func aRemovedSegmentBreaksTheChainAndPositions() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 1_500))
            try fill(j, count: 80)
            j.close()
        }
        let files = dir.segmentFiles()
        #expect(files.count >= 4)
        try FileManager.default.removeItem(atPath: dir.file(files[1]))
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.kind == .positionGap && $0.file == files[2] })
        #expect(report.findings.contains { $0.kind == .brokenChain && $0.file == files[2] })
    }

    @Test func aCleanJournalVerifiesAndItsHeadMatchesTheWriter() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 3_000))
        try fill(j, count: 120)
        let head = j.head
        j.close()
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isClean, "\(report.findings)")
        #expect(report.eventCount == 120)
        #expect(report.chainHash == head.chainHash)
        #expect(report.merkleRoot == head.merkleRoot)
    }

    @Test func aTamperedIndexIsReportedAndRebuiltOnOpen() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60)
            j.close()
        }
        let index = dir.path + "/index/" + (try FileManager.default.contentsOfDirectory(atPath: dir.path + "/index")).sorted()[0]
        try flip(byte: 200, in: index)
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.kind == .badIndex })
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        j.close()
        #expect(j.recovery.rebuiltIndexes.count == 1)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func withTheCheckInTheBackgroundADamagedOlderIndexIsStillRebuiltWhileOpeningAndReadsStayRight() throws {
        var ids: [UUID] = []
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60)
            ids = try j.readAll().map(\.id)
            j.close()
        }
        let indexes = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/index").sorted()
        #expect(indexes.count >= 2)  // the first is not the last sealed one, which opening always checks
        // The id table of the first segment's index: past the header, frames and Merkle sections.
        let damaged = dir.path + "/index/" + indexes[0]
        try flip(byte: try size(damaged) - 40, in: damaged)

        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, check: .inBackground))
        defer { j.close() }
        // Rebuilt before the writer or a reader could use it, not later in the background.
        #expect(j.recovery.rebuiltIndexes == [dir.segmentFiles()[0]])
        #expect(j.backgroundCheck.wait(timeout: 30))
        for id in ids { #expect(try j.event(id: id)?.id == id) }
        try j.append([event("after-repair")])
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func anOlderIndexWhoseChainHashDisagreesWithTheNextSegmentIsRebuiltWhileOpening() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60)
            j.close()
        }
        let first = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/index").sorted()[0]
        try flip(byte: 60, in: dir.path + "/index/" + first)  // inside the chain hash (bytes 56..<88)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, check: .inBackground))
        defer { j.close() }
        #expect(j.recovery.rebuiltIndexes == [dir.segmentFiles()[0]])
        #expect(j.backgroundCheck.wait(timeout: 30))
        try j.append([event("after-repair")])
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    /// Fields of an older index that no lookup can confirm (its counts, its last time) are
    /// never trusted unchecked: whichever is damaged, the index is rebuilt while opening, and the
    /// journal gives the next version of a stream, keeps recorded times where they were, and
    /// stays verifiable.
    @Test(arguments: [
        (47, "frame count past 2^62"), (55, "stream count past 2^62"), (92, "last recorded time days ahead"),
        (23, "first position past 2^62"),
    ])
    func aDamagedCountOrTimeInAnOlderIndexIsRebuiltNotTrusted(byte: Int, what: String) throws {
        var lastTime: Int64 = 0
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
            try fill(j, count: 60)
            lastTime = try j.readAll(limit: 10_000).last!.recordedAtMicros
            j.close()
        }
        let first = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/index").sorted()[0]
        try flip(byte: byte, in: dir.path + "/index/" + first, mask: 0x40)
        for check in [SealedSegmentCheck.inBackground, .beforeOpening] {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, check: check))
            // The first opening rebuilds the index and writes it; the second finds it sound.
            #expect(j.recovery.rebuiltIndexes == (check == .inBackground ? [dir.segmentFiles()[0]] : []), "\(what)")
            let stream = try #require(try j.readAll(limit: 1).first?.stream)
            let before = try #require(j.lastVersion(of: stream))
            let result = try j.append([event(stream, "T")], expecting: [stream: .exact(before)])
            #expect(result.versions[stream] == before + 1, "\(what)")
            let appended = try #require(try j.readAll(from: result.firstPosition, limit: 1).first)
            #expect(appended.recordedAtMicros >= lastTime && appended.recordedAtMicros < lastTime + 3_600_000_000, "\(what): recorded at \(appended.recordedAtMicros)")
            #expect(j.backgroundCheck.wait(timeout: 30))
            j.close()
        }
        #expect(try JournalVerifier.verify(directory: dir.path).isClean, "\(what)")
    }

    /// A segment cut short after the journal opened (its index still describes the frames that
    /// were there) makes reads fail with the damage, not spin on the same frame for ever.
    @Test func aSealedSegmentCutShortWhileOpenFailsReadsInsteadOfLooping() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000, check: .beforeOpening))
        defer { j.close() }
        try fill(j, count: 60)
        #expect(dir.segmentFiles().count >= 2)
        let sealed = dir.file(dir.segmentFiles()[0])
        #expect(truncate(sealed, off_t(JournalFormat.segmentHeaderSize + 10)) == 0)
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Int, any Error>? = nil
        Thread {
            outcome = Result { try j.readAll(limit: 10_000).count }
            finished.signal()
        }.start()
        #expect(finished.wait(timeout: .now() + 20) == .success, "reading a cut segment did not return")
        guard case .failure(JournalError.corrupt(let damage))? = outcome else {
            Issue.record("reading a cut segment gave \(String(describing: outcome))")
            return
        }
        #expect(damage.file == dir.segmentFiles()[0] && damage.kind == .truncatedSealedSegment, "\(damage)")
    }

    /// A reader of the live (last) segment stops quietly at a write in progress, but a bad frame
    /// with sound frames after it is damage, as in any other segment: `replay` and `project` must
    /// not fold half the log and exit 0.
    @Test func aReaderReportsABadFrameFollowedBySoundOnesInTheLastSegment() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try fill(j, count: 30, perAppend: 3)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles()[0])
        let offsets = try frameOffsets(segment)
        #expect(offsets.count == 10)
        #expect(try JournalReader(directory: dir.path).read().count == 30)
        try flip(byte: Int(offsets[4]) + JournalFormat.frameHeaderSize + 2, in: segment)
        #expect {
            try JournalReader(directory: dir.path).read()
        } throws: { error in
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.kind == .midSegmentGarbage && damage.offset == offsets[4] && damage.position == 12
        }
    }

    /// Positions are 64-bit: a frame header whose positions would run past 2^64 - 1 is refused
    /// as a bad header by every reader, so no position arithmetic on it can trap.
    @Test func aFrameHeaderWhosePositionsOverflowIsRefused() throws {
        var header = FrameHeader(storedLength: 10, payloadLength: 10, codec: .none, firstPosition: UInt64.max - 2, eventCount: 3, chainHash: .zero)
        #expect(throws: FrameHeader.DecodeFailure.positionsOverflow) {
            try header.encodedWithoutChecksum().withUnsafeBytes { try FrameHeader.decode($0, maximumPayload: 1 << 20) }
        }
        header.eventCount = 2
        let decoded = try header.encodedWithoutChecksum().withUnsafeBytes { try FrameHeader.decode($0, maximumPayload: 1 << 20) }
        #expect(decoded.firstPosition == UInt64.max - 2 && decoded.eventCount == 2)
    }

    /// An offset past the end of the file (only an index that disagrees with its segment gives
    /// one) is reported as a bad index, whatever its size, instead of trapping on arithmetic.
    @Test(arguments: [UInt64(1), 4096, UInt64.max - 10, UInt64.max])
    func aFrameOffsetPastTheEndIsABadIndexNotATrap(pastTheEnd: UInt64) throws {
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions())
            try fill(j, count: 3)
            j.close()
        }
        let file = try FileDescriptor.open(dir.file(dir.segmentFiles()[0]), flags: O_RDONLY)
        let size = try file.size()
        let (sum, overflow) = size.addingReportingOverflow(pastTheEnd)
        let cursor = FrameCursor(file: file, from: overflow ? pastTheEnd : sum, limit: size, maximumPayload: 1 << 20)
        guard case .invalid(_, let kind, let reason) = try cursor.next() else {
            Issue.record("a cursor past the end did not report it")
            return
        }
        #expect(kind == .badIndex && reason.contains("past the end"), "\(reason)")
    }

    /// Offsets of every frame in a segment file, read through the format's own rules.
    private func frameOffsets(_ path: String) throws -> [UInt64] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var offsets: [UInt64] = []
        var at = JournalFormat.segmentHeaderSize
        while at + JournalFormat.frameHeaderSize <= data.count, data[at..<(at + 4)].elementsEqual("RGFR".utf8) {
            offsets.append(UInt64(at))
            let stored = Int(data.getInteger(at: at + 4, as: UInt32.self))
            at += JournalFormat.frameHeaderSize + stored
        }
        return offsets
    }
}
