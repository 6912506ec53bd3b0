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

    private func flip(byte offset: Int, in file: String) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: file))
        data[offset] ^= 0x10
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

    @Test func withTheCheckInTheBackgroundADamagedOlderIndexIsRebuiltAfterOpeningAndReadsStayRight() throws {
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
        #expect(j.recovery.rebuiltIndexes.isEmpty)
        let rebuilt = j.backgroundCheck.wait(timeout: 30)
        #expect(rebuilt == [dir.segmentFiles()[0]])
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
        #expect(j.backgroundCheck.wait(timeout: 30) == [])
        try j.append([event("after-repair")])
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
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
