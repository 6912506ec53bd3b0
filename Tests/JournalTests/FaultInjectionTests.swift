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
}
