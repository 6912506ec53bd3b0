import Foundation

/// The append-only event journal: one writer process, many readers.
///
/// Appends from any number of threads or tasks are queued to a single writer thread, which packs
/// everything pending into one frame, writes it and runs one fdatasync for all of them (group
/// commit) before acknowledging any. Reads go to the memory-mapped indexes of sealed segments and
/// the in-memory table of the open one.
///
/// Thread safety: only the writer thread mutates the state below, always under `lock`; readers
/// take `lock` to look at it. The writer may read without the lock, since nobody else writes.
public final class Journal: @unchecked Sendable {
    public let directory: String
    public let journalID: UUID
    let options: JournalOptions
    let paths: JournalDirectory
    private let lockFile: FileDescriptor

    let lock = NSLock()
    // Guarded by `lock` (written only by the writer thread).
    var sealed: [SealedSegment] = []
    var openFile: FileDescriptor
    var openName: String
    var openTable: OpenSegmentTable
    var openEnd: UInt64
    /// The open file's size: bytes from `openEnd` up to it are zeros already made durable, which
    /// frames overwrite without changing the size (FORMAT.md, section 5). Writer thread only.
    var openFileSize: UInt64
    var nextPosition: UInt64
    var chainHash: Digest32
    var lastRecordedAt: Int64
    /// Set once the writer must stop: every later append fails with this error.
    var failure: JournalError?
    /// Filters of the sealed segments' event ids: one built in the background from the indexes
    /// found at open, then one per segment sealed since. Segments from `idFilterCoversFrom` on
    /// are in them; an older one is looked up directly until the background build is done.
    var idFilters: [EventIDFilter] = []
    var idFilterCoversFrom: UInt64

    let queue = AppendQueue()
    let merkle: MerkleFollower
    let notifier: CommitNotifier
    /// Set when `options.checkpointSigner` is; used by the writer thread only.
    var checkpoints: CheckpointSchedule?
    var writer: JournalWriter!
    private var writerThread: Thread?

    /// What recovery did on open, for logs and tests.
    public private(set) var recovery: RecoveryReport
    /// The background sealed-segment check, when `options.sealedSegmentCheck` asks for one.
    let backgroundCheck = BackgroundCheckStatus()
    /// Entered while the thread building the id filter of the sealed segments runs; `close` waits for it.
    private let idFilterThread = DispatchGroup()
    /// Packs sealed segments in the background when `options.packing` is set.
    let packer = SegmentPacker()
    /// Decoded blocks of packed segments that reads used last (`options.blockCacheBytes`).
    let blockCache: BlockCache

    /// Opens (creating if needed) the journal in `directory` for writing. Only one process may
    /// hold it; readers use `JournalReader`, which needs no lock.
    public static func open(directory: String, options: JournalOptions = JournalOptions()) throws -> Journal {
        try Journal(directory: directory, options: options)
    }

    private init(directory: String, options: JournalOptions) throws {
        if let problem = Self.optionsProblem(options) { throw JournalError.invalidOptions(problem) }
        self.directory = directory
        self.options = options
        paths = JournalDirectory(path: directory)
        // Directories made here are durable before anything is written in them: a new journal
        // whose own entry a crash could lose would lose every event acknowledged in it.
        let made = Self.directoriesToCreate(paths.indexDirectory)
        do {
            try FileManager.default.createDirectory(atPath: paths.indexDirectory, withIntermediateDirectories: true)
            for created in made { try FileDescriptor.syncDirectory((created as NSString).deletingLastPathComponent) }
        } catch {
            throw JournalError.notAJournal(path: directory, reason: "cannot create it (\(error.localizedDescription))")
        }
        lockFile = try FileDescriptor.open(paths.lockPath, flags: O_RDWR | O_CREAT, mode: 0o644)
        guard lockFile.lockExclusively() else { throw JournalError.locked(path: paths.lockPath) }

        let starts = try paths.segmentFirstPositions()
        // Every index is checksummed here, before the writer or a reader trusts it: an index that
        // says a stream or an id is absent cannot be confirmed by reading an event, and a damaged
        // one would hand out a stream version twice or store a retried event again. Only the
        // segments' own checksums may wait for the background (`sealedSegmentCheck`).
        let sealedState = try Self.openSealedSegments(starts: starts, paths: paths, options: options)
        var report = sealedState.report
        let sealedSegments = sealedState.segments
        var id = sealedState.journalID
        var position = sealedState.position
        var chain = sealedState.chain
        var frontier = sealedState.frontier
        var lastTime = sealedState.lastTime

        // The open segment: scan it whole, truncate a torn tail, rebuild its table.
        let openFirst = starts.last ?? 0
        let openPath = paths.segmentPath(firstPosition: openFirst)
        let openName = JournalFormat.segmentName(firstPosition: openFirst)
        var table = OpenSegmentTable(firstPosition: openFirst)
        let file: FileDescriptor
        var end: UInt64
        var fileSize: UInt64
        let openSize = starts.isEmpty ? 0 : try Self.fileSize(openPath)
        let unfinished = try !starts.isEmpty && Self.isUnfinishedSegment(path: openPath, name: openName)
        if starts.isEmpty || unfinished {
            if !starts.isEmpty {
                report.truncations.append(.init(file: openName, offset: 0, bytesRemoved: openSize, firstPosition: openFirst,
                                                reason: "segment header was never completely written (a crash while creating the segment)"))
            }
            guard openFirst == position else {
                throw JournalError.corrupt(JournalDamage(kind: .positionGap, file: openName, offset: 0, position: position, detail: "segment name says position \(openFirst) but the previous one ends at \(position)"))
            }
            let journalID = id ?? UUID()
            id = journalID
            file = try Self.createSegment(paths: paths, header: SegmentHeader(journalID: journalID, firstPosition: position, previousChainHash: chain, createdAtMicros: options.clock()),
                                          options: options, replacingUnfinished: unfinished)
            end = UInt64(JournalFormat.segmentHeaderSize)
            fileSize = end
        } else {
            // The name is what the open segment's table and every lookup start from, so it must
            // be the position the journal has reached (the scan then holds the header to it).
            guard openFirst == position else {
                throw JournalError.corrupt(JournalDamage(kind: .positionGap, file: openName, offset: 0, position: position,
                                                         detail: "segment name says position \(openFirst) but the \(starts.count > 1 ? "previous segment ends" : "journal starts") at \(position)"))
            }
            file = try FileDescriptor.open(openPath, flags: O_RDWR, calls: options.systemCalls)
            let scanner = SegmentScanner(file: file, name: openName, maximumPayload: JournalFormat.maximumPayloadBytes)
            var merkle = frontier
            let result = try scanner.scan(
                expecting: .init(journalID: id, firstPosition: position, previousChainHash: chain), tailMayBePreallocated: true, merkle: &merkle,
                onFrame: { header, offset in table.addFrame(firstPosition: header.firstPosition, offset: offset) },
                onEvent: { view in table.addEvent(view) })
            id = result.header.journalID
            fileSize = result.validEnd
            switch result.tail {
            case .clean:
                break
            case .preallocated:
                fileSize = try file.size()
            case .torn(let offset, let reason):
                // The preallocated zeros after a torn write go too: frames resume at `offset`, and
                // the next frame preallocates again.
                let size = try file.size()
                try file.truncate(to: offset)
                let t = RecoveryReport.Truncation(file: openName, offset: offset, bytesRemoved: size - offset, firstPosition: result.nextPosition, reason: reason)
                report.truncations.append(t)
                options.log("recovery: \(t)")
            }
            // What the scan read may be only in the page cache: frames a killed writer wrote but
            // never synced. They are about to be answered for (a retry of their ids is told it
            // was committed, a checkpoint may be signed over them, readers see them), so they are
            // made durable first, with a truncation just made and the segment's directory entry.
            try file.syncData()
            try FileDescriptor.syncDirectory(paths.path)
            frontier = merkle
            position = result.nextPosition
            chain = result.chainHash
            lastTime = max(lastTime, result.lastRecordedAt)
            end = result.validEnd
        }
        // An index left for the open segment (a crash mid-seal) is stale by definition, and so
        // is any index a crash left half-written under its temporary name.
        try? FileManager.default.removeItem(atPath: paths.indexPath(firstPosition: openFirst))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: paths.indexDirectory)) ?? [] where name.hasSuffix(".idx.tmp") {
            try? FileManager.default.removeItem(atPath: paths.indexDirectory + "/" + name)
        }

        journalID = id!
        sealed = sealedSegments
        openFile = file
        self.openName = openName
        openTable = table
        openEnd = end
        openFileSize = fileSize
        nextPosition = position
        chainHash = chain
        merkle = MerkleFollower(frontier: frontier)
        notifier = CommitNotifier(end: position)
        lastRecordedAt = lastTime
        recovery = report
        idFilterCoversFrom = sealedSegments.isEmpty ? 0 : openFirst
        blockCache = BlockCache(capacityBytes: max(options.blockCacheBytes, 0))
        checkpoints = options.checkpointSigner.map { CheckpointSchedule(signer: $0, position: position, now: options.clock()) }
        writer = JournalWriter(journal: self)
        let thread = Thread { [writer] in writer!.run() }
        thread.name = "registre-journal-writer"
        thread.stackSize = 1 << 20
        writerThread = thread
        thread.start()
        if options.sealedSegmentCheck == .inBackground, !sealedSegments.isEmpty {
            startBackgroundCheck(of: sealedSegments)
        } else {
            backgroundCheck.finish()
            if !sealedSegments.isEmpty {
                let filtering = idFilterThread
                filtering.enter()
                let thread = Thread { [weak self] in
                    defer { filtering.leave() }
                    self?.filterEventIDs(of: sealedSegments)
                }
                thread.name = "registre-id-filter"
                thread.start()
            }
        }
        if let packing = options.packing {
            // Segments sealed before a crash or under a journal that did not pack.
            for first in sealedState.unpacked { packer.enqueue(first) }
            packer.start(for: self, packing: packing)
        }
    }

    /// What opening learned from the sealed segments.
    struct SealedSegmentsState {
        var report = RecoveryReport()
        var segments: [SealedSegment] = []
        var journalID: UUID? = nil
        var position: UInt64 = 0
        var chain = Digest32.zero
        var frontier = MerkleFrontier()
        var lastTime = Int64.min
        /// First positions of sealed segments not packed yet.
        var unpacked: [UInt64] = []
    }

    /// Sealed segments: trust their index when it is sound and agrees with the segment header.
    private static func openSealedSegments(starts: [UInt64], paths: JournalDirectory, options: JournalOptions) throws -> SealedSegmentsState {
        var state = SealedSegmentsState()
        for (k, first) in starts.dropLast().enumerated() {
            let name = JournalFormat.segmentName(firstPosition: first)
            let file = try FileDescriptor.open(paths.segmentPath(firstPosition: first), flags: O_RDONLY)
            let header = try Self.readHeader(file, name: name)
            if header.minimumReaderVersion < JournalFormat.packedVersion { state.unpacked.append(first) }
            // A packed copy a crash left behind, never renamed: the segment itself is whole.
            unlink(paths.segmentPath(firstPosition: first) + ".packing")
            if k == 0 { state.journalID = header.journalID }
            guard header.journalID == state.journalID else {
                throw JournalError.corrupt(JournalDamage(kind: .foreignSegment, file: name, offset: 0, position: first, detail: "segment belongs to journal \(header.journalID), not \(state.journalID!)"))
            }
            guard header.firstPosition == state.position, first == state.position else {
                throw JournalError.corrupt(JournalDamage(kind: .positionGap, file: name, offset: 0, position: state.position, detail: "segment starts at position \(header.firstPosition) but the previous one ends at \(state.position)"))
            }
            guard header.previousChainHash == state.chain else {
                throw JournalError.corrupt(JournalDamage(kind: .brokenChain, file: name, offset: 0, position: state.position, detail: "segment does not continue the chain hash of the previous segment"))
            }
            var index = try? SegmentIndex(path: paths.indexPath(firstPosition: first), name: JournalFormat.indexName(firstPosition: first))
            let segmentSize = try file.size()
            if let i = index, i.firstPosition != first || i.merkle.leafCount != first + i.eventCount || i.segmentLength != segmentSize {
                index = nil
            }
            if index == nil {
                state.report.rebuiltIndexes.append(name)
                index = try Self.rebuildIndex(file: file, name: name, header: header, frontier: state.frontier, paths: paths, options: options)
            }
            let i = index!
            if options.sealedSegmentCheck == .beforeOpening {
                try Self.checkSealedSegment(file: file, name: name, header: header, index: i, frontier: state.frontier, paths: paths, options: options)
            }
            state.segments.append(SealedSegment(index: i, file: file, name: name))
            state.position = i.endPosition
            state.chain = i.chainHash
            state.frontier = i.merkle
            state.lastTime = max(state.lastTime, i.lastRecordedAt)
        }
        return state
    }

    /// Compares a sealed segment with the checksum recorded at its seal; on a mismatch, scans it
    /// to report exactly where it is damaged.
    static func checkSealedSegment(file: FileDescriptor, name: String, header: SegmentHeader, index: SegmentIndex,
                                   frontier: MerkleFrontier, paths: JournalDirectory, options: JournalOptions) throws {
        guard try file.checksum(length: file.size()) != index.segmentChecksum else { return }
        _ = try rebuildIndex(file: file, name: name, header: header, frontier: frontier, paths: paths, options: options, dryRun: true)
        throw JournalError.corrupt(JournalDamage(kind: .badChecksum, file: name, offset: 0, position: index.firstPosition,
                                                 detail: "sealed segment no longer matches the checksum recorded when it was sealed"))
    }

    /// Checks sealed segments on a background thread, so a large journal opens at once: every
    /// segment's checksum, newest first (their indexes were checksummed while opening). Damage to
    /// a segment stops the writer with the error that locates it.
    private func startBackgroundCheck(of segments: [SealedSegment]) {
        let options = self.options, paths = self.paths
        let thread = Thread { [weak self] in
            defer { self?.backgroundCheck.finish() }
            do {
                self?.filterEventIDs(of: segments)
                for (k, s) in segments.enumerated().reversed() {
                    guard let journal = self, !journal.backgroundCheck.stopRequested else { return }
                    let header = try Journal.readHeader(s.file, name: s.name)
                    let frontier = k == 0 ? MerkleFrontier() : segments[k - 1].index.merkle
                    try Journal.checkSealedSegment(file: s.file, name: s.name, header: header, index: s.index, frontier: frontier, paths: paths, options: options)
                }
            } catch {
                self?.poison(error as? JournalError ?? .writerFailed(reason: "\(error)"))
            }
        }
        thread.name = "registre-check"
        thread.start()
    }

    /// Builds the id filter of the segments sealed when the journal was opened, from their
    /// (checked) indexes, and from then on lets lookups of absent ids skip every sealed segment.
    func filterEventIDs(of segments: [SealedSegment]) {
        let count = segments.reduce(0) { $0 + Int($1.index.eventCount) }
        let filter = EventIDFilter(count: count) { insert in
            for s in segments { s.index.forEachIDHash(insert) }
        }
        lock.withLock {
            idFilters.append(filter)
            idFilterCoversFrom = 0
        }
    }

    /// A journal dropped without `close()` still finishes its queued appends: the writer thread
    /// refers back to it, so it must stop before the memory goes.
    deinit {
        refuseOnWriterThread("released")
        queue.close()
        writer.waitUntilStopped()
        packer.stop(finishingQueued: false)
        merkle.close()
    }

    /// Closing waits for the writer thread to stop, which it cannot do while it waits.
    private func refuseOnWriterThread(_ what: String) {
        guard let writerThread, writerThread === Thread.current else { return }
        preconditionFailure("the journal at \(paths.path) was \(what) inside an append's completion on its own writer thread, which would wait for itself; hand the work off to another thread")
    }

    /// The directories, outermost first, that creating `path` with its parents would make.
    static func directoriesToCreate(_ path: String) -> [String] {
        var missing: [String] = []
        var at = URL(fileURLWithPath: path).standardizedFileURL.path
        while at != "/", !at.isEmpty, !FileManager.default.fileExists(atPath: at) {
            missing.append(at)
            at = (at as NSString).deletingLastPathComponent
        }
        return missing.reversed()
    }

    /// Options whose frames would not fit the format's bound (`JournalFormat.maximumPayloadBytes`).
    static func optionsProblem(_ options: JournalOptions) -> String? {
        let limit = JournalFormat.maximumConfigurableBytes
        if options.limits.maximumAppendBytes > limit {
            return "limits.maximumAppendBytes is \(options.limits.maximumAppendBytes) bytes; a frame holds at most \(limit) (64 MiB) of appends"
        }
        if options.maximumFrameBytes > limit {
            return "maximumFrameBytes is \(options.maximumFrameBytes) bytes; a frame holds at most \(limit) (64 MiB)"
        }
        if options.limits.maximumEventBytes > options.limits.maximumAppendBytes {
            return "limits.maximumEventBytes (\(options.limits.maximumEventBytes)) is larger than limits.maximumAppendBytes (\(options.limits.maximumAppendBytes))"
        }
        return nil
    }

    static func fileSize(_ path: String) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// A last segment with no frames and no sound header: the writer crashed while creating it.
    /// Nothing in it was ever acknowledged, so readers skip it and the writer writes it again.
    static func isUnfinishedSegment(path: String, name: String) throws -> Bool {
        let file = try FileDescriptor.open(path, flags: O_RDONLY)
        let size = try file.size()
        if size < UInt64(JournalFormat.segmentHeaderSize) { return true }
        if size > UInt64(JournalFormat.segmentHeaderSize) { return false }
        do { _ = try readHeader(file, name: name); return false } catch { return true }
    }

    static func readHeader(_ file: FileDescriptor, name: String) throws -> SegmentHeader {
        var bytes = [UInt8](repeating: 0, count: JournalFormat.segmentHeaderSize)
        let n = try bytes.withUnsafeMutableBytes { (raw) throws in try file.read(into: raw, at: 0) }
        do {
            guard n == bytes.count else { throw SegmentHeader.DecodeFailure.tooShort }
            return try bytes.withUnsafeBytes { (raw) throws(SegmentHeader.DecodeFailure) in try SegmentHeader.decode(raw) }
        } catch {
            throw JournalError.corrupt(JournalDamage(kind: .badSegmentHeader, file: name, offset: 0, position: nil, detail: "segment header unreadable (\(error))"))
        }
    }

    /// Writes a new segment with its header and makes its name durable (fsync of the directory).
    ///
    /// The file must not exist (O_EXCL) unless `replacingUnfinished`: the one segment that may be
    /// written over is an open segment whose header a crash left incomplete. Anything else there
    /// is a segment this process failed to see, and truncating it would destroy history.
    static func createSegment(paths: JournalDirectory, header: SegmentHeader, options: JournalOptions,
                              replacingUnfinished: Bool = false) throws -> FileDescriptor {
        let path = paths.segmentPath(firstPosition: header.firstPosition)
        let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | (replacingUnfinished ? O_TRUNC : O_EXCL), mode: 0o644,
                                           calls: options.systemCalls)
        do {
            try file.writeAll(header.encoded(), at: 0)
            try file.syncData()
            try FileDescriptor.syncDirectory(paths.path, calls: options.systemCalls)
        } catch {
            // The name may be durable already (another fsync of the directory, the file
            // system's own commit): its removal must be too. A crash that kept it would leave a
            // segment starting inside the previous one's positions, and the journal would refuse
            // to open until someone deleted it by hand.
            let removed = Glibc.unlink(path) == 0 || errno == ENOENT
            let reason = removed ? nil : String(cString: strerror(errno))
            do {
                guard removed else { throw JournalError.io(operation: "unlink", path: path, errno: errno) }
                try FileDescriptor.syncDirectory(paths.path, calls: options.systemCalls)
            } catch let cleanup {
                throw JournalError.writerFailed(reason: removed
                    ? "creating \(path) failed (\(error)); the unfinished file was removed, but the directory could not be synced (\(cleanup)), so a crash may bring it back: if it is there when the journal is opened again, move it away first"
                    : "creating \(path) failed (\(error)) and the unfinished file could not be removed (\(reason ?? "\(cleanup)")): move it away before the journal is opened again")
            }
            throw error
        }
        return file
    }

    /// Scans a sealed segment whose index is missing or unusable and writes a fresh index.
    static func rebuildIndex(file: FileDescriptor, name: String, header: SegmentHeader, frontier: MerkleFrontier,
                             paths: JournalDirectory, options: JournalOptions, dryRun: Bool = false) throws -> SegmentIndex? {
        let contents = try indexContents(scanning: file, name: name, header: header, frontier: frontier, options: options)
        if dryRun { return nil }
        return try writeIndex(contents, paths: paths)
    }

    /// What a sealed segment's index holds, learnt by reading every frame; throws the damage found.
    static func indexContents(scanning file: FileDescriptor, name: String, header: SegmentHeader, frontier: MerkleFrontier,
                              options: JournalOptions) throws -> SegmentIndexContents {
        var contents = SegmentIndexContents(firstPosition: header.firstPosition, segmentLength: 0, chainHash: header.previousChainHash,
                                            lastRecordedAt: Int64.min, merkle: frontier)
        var merkle = frontier
        let scanner = SegmentScanner(file: file, name: name, maximumPayload: JournalFormat.maximumPayloadBytes)
        let result = try scanner.scan(
            expecting: .init(journalID: header.journalID, firstPosition: header.firstPosition, previousChainHash: header.previousChainHash),
            merkle: &merkle,
            onFrame: { h, offset in contents.addFrame(firstPosition: h.firstPosition, offset: offset) },
            onEvent: { view in contents.addEvent(view) })
        if case .torn(let offset, let reason) = result.tail {
            throw JournalError.corrupt(JournalDamage(kind: .truncatedSealedSegment, file: name, offset: offset, position: result.nextPosition,
                                                     detail: "sealed segment ends in an incomplete frame (\(reason))"))
        }
        contents.segmentLength = result.validEnd
        contents.segmentChecksum = try file.checksum(length: result.validEnd)
        contents.chainHash = result.chainHash
        contents.lastRecordedAt = result.lastRecordedAt
        contents.merkle = merkle
        return contents
    }

    /// Writes an index through a temporary file and a rename, so a crash leaves the old or the new.
    static func writeIndex(_ contents: SegmentIndexContents, paths: JournalDirectory) throws -> SegmentIndex {
        try writeIndex(bytes: SegmentIndex.encode(contents), firstPosition: contents.firstPosition, paths: paths)
    }

    static func writeIndex(bytes: [UInt8], firstPosition: UInt64, paths: JournalDirectory) throws -> SegmentIndex {
        let final = paths.indexPath(firstPosition: firstPosition)
        let temporary = final + ".tmp"
        let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try file.writeAll(bytes, at: 0)
        try file.syncData()
        guard rename(temporary, final) == 0 else { throw JournalError.io(operation: "rename", path: final, errno: errno) }
        try FileDescriptor.syncDirectory(paths.indexDirectory)
        return try SegmentIndex(path: final, name: JournalFormat.indexName(firstPosition: firstPosition))
    }

    /// Finishes the appends in flight, syncs, and stops the writer. Later appends fail with `.closed`.
    public func close() {
        refuseOnWriterThread("closed")
        queue.close()
        writer.waitUntilStopped()
        packer.stop(finishingQueued: true)
        merkle.close()
        notifier.close()
        // The id filter and the background check read the sealed indexes' mappings: a file
        // rewritten in place once the lock is released (by a test, or by another writer) would
        // end this process with SIGBUS. The check stops before its next segment.
        idFilterThread.wait()
        backgroundCheck.requestStop()
        _ = backgroundCheck.wait(timeout: 600)
        lockFile.unlock()
    }

    // MARK: Appending

    /// Appends atomically and returns once the frame holding it is durable.
    public func append(_ request: AppendRequest) async throws -> AppendResult {
        let prepared = try PreparedAppend(request, limits: options.limits)
        // Held until the answer so that the append's buffers are freed here, not on the writer thread.
        defer { withExtendedLifetime(prepared) {} }
        return try await withCheckedThrowingContinuation { continuation in
            queue.enqueue(prepared) { continuation.resume(with: $0) }
        }
    }

    /// The blocking form of `append`, for command-line tools and benchmarks outside async code.
    public func appendAndWait(_ request: AppendRequest) throws -> AppendResult {
        let prepared = try PreparedAppend(request, limits: options.limits)
        let box = ResultBox()
        // Nothing queued or being written: commit here, without waking the writer thread and
        // waiting to be woken (a bulk load's batches follow one another this way).
        if queue.claimIfIdle() {
            withExtendedLifetime(prepared) {
                writer.commit([AppendQueue.Item(append: prepared, completion: { box.result = $0 })])
            }
            return try box.result!.get()
        }
        let done = DispatchSemaphore(value: 0)
        queue.enqueue(prepared) { result in
            box.result = result
            done.signal()
        }
        // Held until the answer so that the append's buffers are freed here, not on the writer thread.
        withExtendedLifetime(prepared) { done.wait() }
        return try box.result!.get()
    }

    /// Queues an append and returns at once; `completion` runs once its frame is written.
    ///
    /// It runs on the thread that wrote the frame, usually the writer's: it must hand off what it
    /// has to do (as the server does to its event loops) rather than close the journal or drop the
    /// last reference to it there, which would wait for that thread to stop (a clear trap, rather
    /// than a hang).
    ///
    /// Appends queued one after another from one thread commit in that order, and the writer packs
    /// them into shared frames, as it does for a busy server's concurrent clients: bulk writers
    /// (benchmarks, generators) get the same frame sizes without one thread per append.
    public func enqueueAppend(_ request: AppendRequest, completion: @escaping @Sendable (Result<AppendResult, JournalError>) -> Void) throws {
        let prepared = try PreparedAppend(request, limits: options.limits)
        queue.enqueue(prepared, completion: completion)
    }

    /// Position after the last committed event (= number of events).
    public var endPosition: UInt64 { lock.withLock { nextPosition } }

    /// The state after the last committed frame. Waits for the Merkle hashing to catch up.
    public var head: JournalHead {
        let (position, chain, time) = lock.withLock { (nextPosition, chainHash, lastRecordedAt) }
        let root = merkle.frontier(through: position).root
        return JournalHead(journalID: journalID, position: position, chainHash: chain, merkleRoot: root, lastRecordedAtMicros: time)
    }

    public var segmentCount: Int { lock.withLock { sealed.count + 1 } }
}

private final class ResultBox: @unchecked Sendable {
    var result: Result<AppendResult, JournalError>?
}

/// The journal's state after its last committed frame: what a checkpoint signs.
public struct JournalHead: Sendable, Equatable {
    public var journalID: UUID
    /// Number of events, which is also the next position.
    public var position: UInt64
    public var chainHash: Digest32
    public var merkleRoot: Digest32
    public var lastRecordedAtMicros: Int64
}

/// What opening the journal found and repaired.
public struct RecoveryReport: Sendable, Equatable {
    public struct Truncation: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var offset: UInt64
        public var bytesRemoved: UInt64
        /// Position the first lost (never acknowledged) event would have had.
        public var firstPosition: UInt64
        public var reason: String
        public var description: String {
            "truncated a torn tail of \(bytesRemoved) bytes at byte \(offset) of \(file) (unacknowledged events from position \(firstPosition) on): \(reason)"
        }
    }

    public var truncations: [Truncation] = []
    public var rebuiltIndexes: [String] = []
}

/// When the background sealed-segment check ends.
final class BackgroundCheckStatus: @unchecked Sendable {
    private let condition = NSCondition()
    private var finished = false
    private var stopping = false

    /// Set by `close`: the check stops before its next segment (it reads the indexes' mappings,
    /// which must not be touched once the lock is released).
    var stopRequested: Bool { condition.withLock { stopping } }

    func requestStop() { condition.withLock { stopping = true } }

    func finish() {
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }

    /// Whether the check has ended (or was not needed) within `timeout`.
    func wait(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        return condition.withLock {
            while !finished, condition.wait(until: deadline) {}
            return finished
        }
    }
}
