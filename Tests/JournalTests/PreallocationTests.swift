import Foundation
import Glibc
import Testing
@testable import Journal

/// The open segment ends in zeros the writer made durable ahead of its frames (FORMAT.md,
/// section 5), so that a frame's fdatasync does not change the file size. Those zeros are the
/// end of the log, never a torn write or damage, and never survive into a sealed segment.
@Suite struct PreallocationTests {
    let dir = TemporaryDirectory("prealloc")

    private func options(preallocating bytes: Int = 64 << 10, segmentSize: Int = 64 << 20) -> JournalOptions {
        var o = testOptions(segmentSize: segmentSize)
        o.preallocationBytes = bytes
        return o
    }

    private func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
    }

    private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func framesOverwriteZerosThatTheWriterLaidDownAheadOfThem() throws {
        let j = try Journal.open(directory: dir.path, options: options())
        try j.append([event("a")])
        let segment = dir.file(dir.segmentFiles()[0])
        let end = try endOfFrames(segment)
        #expect(try size(segment) == end + (64 << 10), "one frame, then the preallocated zeros")
        #expect(try bytes(segment)[end...].allSatisfy { $0 == 0 })
        // Later frames land in the zeros: the file keeps its size while they fit.
        try fill(j, count: 20)
        #expect(try endOfFrames(segment) > end)
        #expect(try size(segment) == end + (64 << 10))
        j.close()
    }

    @Test func reopeningFindsTheEndOfTheFramesAndTruncatesNothing() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: options())
            try fill(j, count: 25)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles()[0])
        let sizeBefore = try size(segment)
        let j = try Journal.open(directory: dir.path, options: options())
        #expect(j.recovery.truncations.isEmpty)
        #expect(try size(segment) == sizeBefore, "the zeros stay for the next frames")
        #expect(try j.append([event("s-0")], expecting: ["s-0": .exact(3)]).firstPosition == 25)
        #expect(try j.readAll().count == 26)
        j.close()
        #expect(try JournalReader(directory: dir.path).read().map(\.position) == Array(0..<26))
    }

    @Test func readersAndTheVerifierStopAtTheZerosWithoutANote() throws {
        let j = try Journal.open(directory: dir.path, options: options())
        defer { j.close() }
        try fill(j, count: 12)
        // While the writer holds the journal open, as `registre project` and `audit` may.
        #expect(try JournalReader(directory: dir.path).read().count == 12)
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isClean)
        #expect(report.notes.isEmpty, "preallocated space is not a torn write: \(report.notes)")
    }

    @Test func aSealedSegmentEndsAtItsLastFrameAndItsIndexAgrees() throws {
        let j = try Journal.open(directory: dir.path, options: options(preallocating: 8 << 10, segmentSize: 24 << 10))
        try fill(j, count: 1500, perAppend: 3)
        j.close()
        let segments = dir.segmentFiles()
        #expect(segments.count >= 3)
        for name in segments.dropLast() {
            let path = dir.file(name)
            #expect(try endOfFrames(path) == (try size(path)), "\(name) keeps no zeros once sealed")
            let index = try SegmentIndex(path: dir.file("index/" + name.replacingOccurrences(of: ".seg", with: ".idx")), name: name)
            #expect(index.segmentLength == UInt64(try size(path)))
        }
        let reopened = try Journal.open(directory: dir.path, options: options(preallocating: 8 << 10, segmentSize: 24 << 10))
        #expect(reopened.recovery.rebuiltIndexes.isEmpty)
        reopened.close()
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func aTornFrameInThePreallocatedSpaceIsCutWithTheZerosAfterIt() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: options())
            try fill(j, count: 8)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles()[0])
        let end = try endOfFrames(segment)
        // The first page of a frame reached the disk, not the rest: its header and garbage.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: segment))
        try h.seek(toOffset: UInt64(end))
        try h.write(contentsOf: Data(Array("RGFR".utf8) + [0x00, 0x10, 0x00, 0x00] + [UInt8](repeating: 0xA5, count: 300)))
        try h.close()
        let total = try size(segment)
        let j = try Journal.open(directory: dir.path, options: options())
        #expect(j.recovery.truncations.count == 1)
        #expect(j.recovery.truncations.first?.offset == UInt64(end))
        #expect(j.recovery.truncations.first?.bytesRemoved == UInt64(total - end))
        #expect(try size(segment) == end)
        // The next frame preallocates again.
        #expect(try j.append([event("after")]).firstPosition == 8)
        #expect(try size(segment) > (try endOfFrames(segment)))
        j.close()
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func aSoundFrameHiddenAfterTheZerosIsDamageNotTheEnd() throws {
        do {
            let j = try Journal.open(directory: dir.path, options: options())
            try fill(j, count: 6, perAppend: 2)
            j.close()
        }
        let segment = dir.file(dir.segmentFiles()[0])
        let end = try endOfFrames(segment)
        var data = try bytes(segment)
        // A copy of the first frame, further into the zeros: bytes after the end that a reader
        // stopping at the first zero header would never see.
        let first = JournalFormat.segmentHeaderSize
        let length = JournalFormat.frameHeaderSize + Int(data.getInteger(at: first + 4, as: UInt32.self))
        let copy = Array(data[first..<(first + length)])
        data.replaceSubrange((end + 4096)..<(end + 4096 + length), with: copy)
        try Data(data).write(to: URL(fileURLWithPath: segment))
        let error = #expect(throws: JournalError.self) { try Journal.open(directory: dir.path, options: options()) }
        guard case .corrupt(let damage)? = error else { Issue.record("expected damage, got \(String(describing: error))"); return }
        #expect(damage.offset == UInt64(end))
        #expect(try size(segment) == data.count, "nothing may be truncated")
        #expect(try !JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func withoutPreallocationTheFileEndsAtItsLastFrame() throws {
        let j = try Journal.open(directory: dir.path, options: options(preallocating: 0))
        try fill(j, count: 10)
        j.close()
        let segment = dir.file(dir.segmentFiles()[0])
        #expect(try size(segment) == (try endOfFrames(segment)))
    }

    final class ZeroWritesFail: @unchecked Sendable {
        let lock = NSLock()
        var failed = 0
    }

    @Test func aFullDiskWhilePreallocatingDoesNotFailTheAppend() throws {
        let faults = ZeroWritesFail()
        var o = options()
        o.systemCalls = SystemCalls(
            pwrite: { fd, buffer, offset in
                // Only the preallocating writes (all zeros, 64 KiB) meet a full disk.
                if buffer.count == 64 << 10, buffer.allSatisfy({ $0 == 0 }) {
                    faults.lock.withLock { faults.failed += 1 }
                    errno = ENOSPC
                    return -1
                }
                return Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset))
            },
            fdatasync: { fd in Glibc.fdatasync(fd) },
            fsync: { fd in Glibc.fsync(fd) },
            ftruncate: { fd, length in Glibc.ftruncate(fd, off_t(length)) }
        )
        let j = try Journal.open(directory: dir.path, options: o)
        try fill(j, count: 10)
        j.close()
        #expect(faults.lock.withLock { faults.failed } == 1, "tried once, then not again in this segment")
        let segment = dir.file(dir.segmentFiles()[0])
        #expect(try size(segment) == (try endOfFrames(segment)))
        #expect(try JournalReader(directory: dir.path).read().count == 10)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }
}
