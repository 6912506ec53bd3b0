import Foundation
import Glibc
import Testing
@testable import Journal

/// `TailRepair`: damage in the last segment that stops the writer is cut only when asked, at the
/// damage, with every removed byte kept; anything else is left alone.
@Suite struct TailRepairTests {
    let dir = TemporaryDirectory("repair")

    /// Ten appends of three events, one frame each; returns every frame of the last segment.
    private func writeFrames() throws -> [(offset: UInt64, firstPosition: UInt64, eventCount: UInt32)] {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        for k in 0..<10 { try j.append((0..<3).map { i in event("s\(k % 3)", data: #"{"k":\#(k),"i":\#(i)}"#) }) }
        j.close()
        var frames: [(offset: UInt64, firstPosition: UInt64, eventCount: UInt32)] = []
        _ = try JournalVerifier.verify(directory: dir.path, observe: { frames.append(($0.offset, $0.firstPosition, $0.eventCount)) })
        #expect(frames.count == 10)
        return frames
    }

    private func flip(_ name: String, at offset: UInt64) throws {
        let path = dir.file(name)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[Int(offset)] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    @Test func damageBeforeSoundFramesIsCutOnlyWhenAskedAndEveryRemovedByteIsKept() throws {
        let frames = try writeFrames()
        let segment = dir.segmentFiles().last!
        let damaged = frames[4]
        try flip(segment, at: damaged.offset + UInt64(JournalFormat.frameHeaderSize) + 2)
        #expect(throws: JournalError.self) { try Journal.open(directory: dir.path, options: testOptions()) }
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.file(segment)))

        guard case .cuttable(let plan) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("the damage was not found cuttable")
            return
        }
        #expect(plan.segment == segment && plan.offset == damaged.offset && plan.keptThrough == damaged.firstPosition)
        #expect(plan.bytes == UInt64(before.count) - damaged.offset)
        #expect(plan.framesAfter.map(\.firstPosition) == frames[5...].map(\.firstPosition))
        #expect(plan.eventsAfter == 15)
        // Examining changed nothing.
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file(segment))) == before)

        let kept = try TailRepair.cut(directory: dir.path, as: plan).bytesFile
        #expect(try Data(contentsOf: URL(fileURLWithPath: kept)) == before[Int(damaged.offset)...])
        #expect(fileSizeOf(dir.file(segment)) == damaged.offset)
        #expect(try TailRepair.examine(directory: dir.path) == .nothingToCut)

        let j = try Journal.open(directory: dir.path, options: testOptions())
        #expect(j.endPosition == damaged.firstPosition)
        try j.append([event("after")])
        j.close()
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        #expect(try JournalReader(directory: dir.path).read().count == Int(damaged.firstPosition) + 1)
    }

    /// A torn tail (bad bytes and nothing sound after them) is the writer's to cut when it opens:
    /// nothing here.
    @Test func aTornTailIsLeftToTheWriter() throws {
        let frames = try writeFrames()
        let segment = dir.segmentFiles().last!
        try flip(segment, at: frames[9].offset + UInt64(JournalFormat.frameHeaderSize) + 2)
        #expect(try TailRepair.examine(directory: dir.path) == .nothingToCut)
        let j = try Journal.open(directory: dir.path, options: testOptions())
        #expect(j.endPosition == frames[9].firstPosition)
        j.close()
    }

    @Test func damageInTheLastSegmentsHeaderIsNotCut() throws {
        _ = try writeFrames()
        let segment = dir.segmentFiles().last!
        try flip(segment, at: 20)
        guard case .notCuttable(let damage, let reason) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("a damaged header was found cuttable")
            return
        }
        #expect(damage.offset == 0 && reason.contains(segment))
    }

    @Test func aCutRefusesWhileAWriterHoldsTheJournalOrWhenTheSegmentChanged() throws {
        let frames = try writeFrames()
        let segment = dir.segmentFiles().last!
        try flip(segment, at: frames[2].offset + UInt64(JournalFormat.frameHeaderSize) + 2)
        guard case .cuttable(let plan) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("not cuttable")
            return
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.file(segment)))
        let lock = open(dir.file("LOCK"), O_RDWR | O_CREAT, 0o644)
        #expect(flock(lock, LOCK_EX | LOCK_NB) == 0)
        #expect(throws: JournalError.locked(path: dir.file("LOCK"))) { try TailRepair.cut(directory: dir.path, as: plan) }
        flock(lock, LOCK_UN)
        close(lock)
        // Another flip after the examination: the plan no longer describes the segment.
        try flip(segment, at: frames[1].offset + UInt64(JournalFormat.frameHeaderSize) + 2)
        let flipped = try Data(contentsOf: URL(fileURLWithPath: dir.file(segment)))
        #expect(throws: JournalError.self) { try TailRepair.cut(directory: dir.path, as: plan) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file(segment))) == flipped && flipped.count == before.count)
        #expect(!FileManager.default.fileExists(atPath: dir.file("quarantine")))
    }

    /// A cut that a crash interrupted after its quarantine file was written runs again to the
    /// end; a different file already at that name is kept, and the bytes go beside it.
    @Test func aCutRunsAgainAfterAnInterruptionAndNeverOverwritesAQuarantinedFile() throws {
        let frames = try writeFrames()
        let segment = dir.segmentFiles().last!
        try flip(segment, at: frames[6].offset + UInt64(JournalFormat.frameHeaderSize) + 2)
        guard case .cuttable(let plan) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("not cuttable")
            return
        }
        let removed = try Data(contentsOf: URL(fileURLWithPath: dir.file(segment)))[Int(plan.offset)...]
        let name = dir.file("quarantine/\(segment).\(plan.offset).cut")
        try FileManager.default.createDirectory(atPath: dir.file("quarantine"), withIntermediateDirectories: false)
        try Data("something else".utf8).write(to: URL(fileURLWithPath: name))
        let cut = try TailRepair.cut(directory: dir.path, as: plan)
        #expect(cut.bytesFile == name + ".2")
        #expect(try Data(contentsOf: URL(fileURLWithPath: name)) == Data("something else".utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: cut.bytesFile)) == removed)

        // The same cut again, as after a crash before the truncation: the segment is put back as it
        // was, and the quarantined copy with the same bytes is reused rather than duplicated.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file(segment)))
        try handle.seekToEnd()
        try handle.write(contentsOf: removed)
        try handle.close()
        guard case .cuttable(let again) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("not cuttable again")
            return
        }
        #expect(try TailRepair.cut(directory: dir.path, as: again).bytesFile == name + ".2")
        #expect(try TailRepair.examine(directory: dir.path) == .nothingToCut)
    }

    /// Checkpoints past the cut would be overwritten as new events take their positions: they go
    /// to quarantine with the bytes; those before the cut stay.
    @Test func checkpointsPastTheCutAreQuarantinedAndTheOthersStay() throws {
        var options = testOptions()
        options.checkpointSigner = CheckpointSigner()
        options.checkpointEvery = 6
        let j = try Journal.open(directory: dir.path, options: options)
        for k in 0..<10 { try j.append((0..<3).map { i in event("s\(k % 3)", data: #"{"k":\#(k),"i":\#(i)}"#) }) }
        j.close()
        var frames: [(offset: UInt64, firstPosition: UInt64)] = []
        _ = try JournalVerifier.verify(directory: dir.path, observe: { frames.append(($0.offset, $0.firstPosition)) })
        try flip(dir.segmentFiles().last!, at: frames[5].offset + UInt64(JournalFormat.frameHeaderSize) + 2)
        let names = Checkpoint.files(inJournal: dir.path).map(\.name)
        guard case .cuttable(let plan) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("not cuttable")
            return
        }
        #expect(plan.keptThrough == 15)
        let after = names.filter { UInt64($0.prefix(20)).map { $0 > 15 } ?? false }
        #expect(!after.isEmpty && plan.checkpointsAfter == after, "\(plan.checkpointsAfter) against \(names)")
        let cut = try TailRepair.cut(directory: dir.path, as: plan)
        let moved = try #require(cut.checkpointsDirectory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: moved).sorted() == after)
        #expect(Checkpoint.files(inJournal: dir.path).map(\.name) == names.filter { !after.contains($0) })
    }

    @Test func damageInASealedSegmentIsNotCutAndAWriterHoldingTheJournalIsNotExamined() throws {
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2 << 10))
        for k in 0..<60 { try j.append([event("s\(k % 5)", data: #"{"k":\#(k),"pad":"\#(String(repeating: "p", count: 80))"}"#)]) }
        #expect(throws: JournalError.locked(path: dir.file("LOCK"))) { try TailRepair.examine(directory: dir.path) }
        j.close()
        let segments = dir.segmentFiles()
        #expect(segments.count >= 3)
        try flip(segments[0], at: UInt64(JournalFormat.segmentHeaderSize + JournalFormat.frameHeaderSize + 2))
        guard case .notCuttable(let damage, let reason) = try TailRepair.examine(directory: dir.path) else {
            Issue.record("damage in a sealed segment was found cuttable")
            return
        }
        #expect(damage.file == segments[0] && reason.contains("restore \(segments[0])"), "\(reason)")
    }

    private func fileSizeOf(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
