import Foundation
import Glibc
import Testing
@testable import Journal

/// Disk-full, short writes and failed syncs, injected through the syscall indirection.
@Suite struct FaultInjectionTests {
    let dir = TemporaryDirectory()

    final class Faults: @unchecked Sendable {
        let lock = NSLock()
        var failWritesWith: Int32? = nil
        var shortWrites = false
        var failSyncWith: Int32? = nil
        var syncs = 0
    }

    private func options(_ faults: Faults) -> JournalOptions {
        var o = testOptions()
        o.systemCalls = SystemCalls(
            pwrite: { fd, buffer, offset in
                let (error, short) = faults.lock.withLock { (faults.failWritesWith, faults.shortWrites) }
                if let error { errno = error; return -1 }
                let n = short ? min(buffer.count, 7) : buffer.count
                return Glibc.pwrite(fd, buffer.baseAddress, n, off_t(offset))
            },
            fdatasync: { fd in
                if let error = faults.lock.withLock({ faults.syncs += 1; return faults.failSyncWith }) { errno = error; return -1 }
                return Glibc.fdatasync(fd)
            },
            fsync: { fd in Glibc.fsync(fd) },
            ftruncate: { fd, length in Glibc.ftruncate(fd, off_t(length)) }
        )
        return o
    }

    @Test func aFullDiskFailsTheAppendClearlyAndTheJournalStaysWritable() throws {
        let faults = Faults()
        let j = try Journal.open(directory: dir.path, options: options(faults))
        try j.append([event("a")])
        faults.lock.withLock { faults.failWritesWith = ENOSPC }
        #expect(throws: JournalError.noSpace(path: dir.file(dir.segmentFiles()[0]))) { try j.append([event("a")]) }
        faults.lock.withLock { faults.failWritesWith = nil }
        let r = try j.append([event("a")], expecting: ["a": .exact(0)])
        #expect(r.firstPosition == 1)
        j.close()
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        #expect(try JournalReader(directory: dir.path).read().count == 2)
    }

    @Test func shortWritesAreCompleted() throws {
        let faults = Faults()
        faults.shortWrites = true
        let j = try Journal.open(directory: dir.path, options: options(faults))
        try fill(j, count: 20)
        j.close()
        #expect(try JournalReader(directory: dir.path).read().count == 20)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    @Test func aFailedSyncStopsTheWriterUntilReopened() throws {
        let faults = Faults()
        let j = try Journal.open(directory: dir.path, options: options(faults))
        try j.append([event("a")])
        faults.lock.withLock { faults.failSyncWith = EIO }
        #expect(throws: JournalError.io(operation: "fdatasync", path: dir.file(dir.segmentFiles()[0]), errno: EIO)) { try j.append([event("a")]) }
        faults.lock.withLock { faults.failSyncWith = nil }
        #expect {
            try j.append([event("a")])
        } throws: { error in
            if case JournalError.writerFailed = error { return true }
            return false
        }
        j.close()
        // Reopening reads back what really reached the file; the unacknowledged frame may or may not be there.
        let reopened = try Journal.open(directory: dir.path, options: testOptions())
        defer { reopened.close() }
        #expect(reopened.endPosition >= 1)
        #expect(try reopened.append([event("a")]).firstPosition == reopened.endPosition - 1)
    }

    /// A writer killed between its write and its fdatasync leaves a frame that reopening reads
    /// back, perhaps from the page cache alone. A retry of that append is answered "committed"
    /// without writing anything, so opening must have made the frame durable first.
    @Test func reopeningSyncsTheFramesItFindsBeforeAnsweringARetryForThem() throws {
        // The first writer's syncs do nothing, as if it were killed before each one returned.
        let unsynced = Faults()
        var first = options(unsynced)
        first.systemCalls.fdatasync = { _ in 0 }
        let id = UUID()
        do {
            let j = try Journal.open(directory: dir.path, options: first)
            try j.append([event("a", id: id)])
        }
        let faults = Faults()
        let reopened = try Journal.open(directory: dir.path, options: options(faults))
        defer { reopened.close() }
        let retry = try reopened.appendAndWait(AppendRequest(events: [event("a", id: id)]))
        #expect(retry.wasAlreadyCommitted)
        #expect(faults.lock.withLock { faults.syncs } >= 1, "the retry was answered from a frame that was never synced")
    }

    /// With relaxed durability a checkpoint is signed only after a sync: when that sync fails,
    /// nothing is signed (not even when closing) and the writer stops, as in durable mode.
    @Test func aFailedSyncBeforeARelaxedCheckpointSignsNothingAndStopsTheWriter() throws {
        let faults = Faults()
        var o = options(faults)
        o.durability = .relaxed
        o.checkpointSigner = CheckpointSigner()
        o.checkpointEvery = 5
        let j = try Journal.open(directory: dir.path, options: o)
        for k in 0..<4 { try j.append([event("a", data: #"{"k":\#(k)}"#)]) }
        faults.lock.withLock { faults.failSyncWith = EIO }
        try j.append([event("a")])  // the fifth event: a checkpoint is due, and its sync fails
        #expect { try j.append([event("a")]) } throws: { error in
            if case JournalError.writerFailed(let reason) = error { return reason.contains("before the checkpoint") }
            return false
        }
        j.close()
        let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/checkpoints")) ?? []
        #expect(checkpoints.filter { !$0.hasSuffix(".tmp") }.isEmpty, "signed without a sync: \(checkpoints)")
    }

    @Test func relaxedDurabilitySkipsThePerFrameSync() throws {
        let faults = Faults()
        var o = options(faults)
        o.durability = .relaxed
        let j = try Journal.open(directory: dir.path, options: o)
        let before = faults.lock.withLock { faults.syncs }
        try fill(j, count: 50, perAppend: 1)
        #expect(faults.lock.withLock { faults.syncs } == before)
        j.close()
        #expect(faults.lock.withLock { faults.syncs } == before + 1, "close syncs once")
    }

    // MARK: Sealing

    /// What the descriptor `fd` names, for hooks that fail one file's calls only.
    private static func path(of fd: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    /// Fails the fdatasync of the first segment created after the journal's first one, once, and
    /// records every fsync of the journal's directory with whether that segment's name was there.
    final class SegmentCreation: @unchecked Sendable {
        let lock = NSLock()
        var firstSegment = ""
        var failedPath: String?
        var directorySyncsAfterFailure: [Bool] = []
        var failDirectorySyncsAfterFailure = false
    }

    private func options(_ creation: SegmentCreation, journal: String) -> JournalOptions {
        var o = testOptions(segmentSize: 4 << 10)
        o.preallocationBytes = 0
        o.systemCalls = SystemCalls(
            pwrite: { fd, buffer, offset in Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) },
            fdatasync: { fd in
                let path = Self.path(of: fd)
                let fail = creation.lock.withLock { () -> Bool in
                    guard creation.failedPath == nil, !creation.firstSegment.isEmpty, path.hasSuffix(".seg"), !path.hasSuffix(creation.firstSegment) else { return false }
                    creation.failedPath = path
                    return true
                }
                if fail { errno = EIO; return -1 }
                return Glibc.fdatasync(fd)
            },
            fsync: { fd in
                let path = Self.path(of: fd)
                let fail = creation.lock.withLock { () -> Bool in
                    guard let failed = creation.failedPath, path == journal else { return false }
                    creation.directorySyncsAfterFailure.append(FileManager.default.fileExists(atPath: failed))
                    return creation.failDirectorySyncsAfterFailure
                }
                if fail { errno = EIO; return -1 }
                return Glibc.fsync(fd)
            },
            ftruncate: { fd, length in Glibc.ftruncate(fd, off_t(length)) }
        )
        return o
    }

    /// Appends until a seal has tried to create the next segment (and `creation` failed it);
    /// returns how many events went in.
    private func appendUntilASegmentCreationFails(_ j: Journal, _ creation: SegmentCreation) throws -> Int {
        var appended = 0
        while creation.lock.withLock({ creation.failedPath == nil }) && appended < 200 {
            try j.append([event("s\(appended % 7)", data: #"{"k":\#(appended),"pad":"\#(String(repeating: "x", count: 200))"}"#)])
            appended += 1
        }
        return appended
    }

    /// A new segment whose creation failed after its name was made is unlinked, and the unlink
    /// is made durable (the directory synced without it) before anything else: a crash that
    /// brought the name back would leave a segment inside the previous one's positions, and the
    /// journal would refuse to open.
    @Test func aSegmentWhoseCreationFailedIsRemovedDurably() throws {
        let creation = SegmentCreation()
        let journal = URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
        let j = try Journal.open(directory: dir.path, options: options(creation, journal: journal))
        creation.lock.withLock { creation.firstSegment = dir.segmentFiles()[0] }
        let appended = try appendUntilASegmentCreationFails(j, creation)
        let failed = try #require(creation.lock.withLock { creation.failedPath }, "no segment creation was attempted")
        #expect(!FileManager.default.fileExists(atPath: failed))
        #expect(creation.lock.withLock { creation.directorySyncsAfterFailure.first } == false,
                "the directory was not synced without the unfinished segment: \(creation.lock.withLock { creation.directorySyncsAfterFailure })")
        // The writer goes on: sealing is retried and succeeds, and everything is there.
        for k in 0..<20 { try j.append([event("t", data: #"{"k":\#(k)}"#)]) }
        j.close()
        #expect(try JournalReader(directory: dir.path).read().count == appended + 20)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }

    /// When that removal cannot be made durable, the writer stops with a reason naming the file:
    /// going on would acknowledge frames that the next open could refuse to reach.
    @Test func aSegmentThatCouldNotBeRemovedDurablyStopsTheWriter() throws {
        let creation = SegmentCreation()
        creation.failDirectorySyncsAfterFailure = true
        let journal = URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
        let j = try Journal.open(directory: dir.path, options: options(creation, journal: journal))
        creation.lock.withLock { creation.firstSegment = dir.segmentFiles()[0] }
        let appended = try appendUntilASegmentCreationFails(j, creation)
        let failed = try #require(creation.lock.withLock { creation.failedPath })
        #expect { try j.append([event("t")]) } throws: { error in
            if case JournalError.writerFailed(let reason) = error { return reason.contains((failed as NSString).lastPathComponent) }
            return false
        }
        j.close()
        let reopened = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 4 << 10))
        defer { reopened.close() }
        #expect(reopened.endPosition == UInt64(appended))
    }

    /// With relaxed durability the seal's own sync is the first one the segment gets: when it
    /// fails, the writer stops, as after any failed sync. Linux reports a failed writeback once,
    /// so a later sync (the next seal's, a checkpoint's) would succeed over frames that are gone.
    @Test func aFailedSyncWhileSealingStopsTheWriter() throws {
        let faults = Faults()
        var o = options(faults)
        o.durability = .relaxed
        o.segmentSizeLimit = 4 << 10
        let j = try Journal.open(directory: dir.path, options: o)
        let segments = dir.segmentFiles().count
        let before = faults.lock.withLock { faults.syncs }
        faults.lock.withLock { faults.failSyncWith = EIO }
        var refused: (any Error)?
        for k in 0..<200 {
            do { try j.append([event("a", data: #"{"k":\#(k),"pad":"\#(String(repeating: "x", count: 200))"}"#)]) } catch {
                refused = error
                break
            }
            // Once the seal's sync failed, let later syncs succeed (as the kernel would).
            if faults.lock.withLock({ faults.syncs }) > before { faults.lock.withLock { faults.failSyncWith = nil } }
        }
        let error = try #require(refused, "appends went on after the seal's sync failed")
        guard case JournalError.writerFailed(let reason) = error else {
            Issue.record("expected writerFailed, got \(error)")
            return
        }
        #expect(reason.contains("sealing"))
        #expect(dir.segmentFiles().count == segments, "a new segment was started after a failed sync")
        j.close()
    }
}
