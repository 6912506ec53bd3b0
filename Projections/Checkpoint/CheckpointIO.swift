import Foundation

/// Writes a checkpoint to `<path>.partial` front to back; `commit` renames it over `path`, so an
/// interrupted run leaves the previous checkpoint intact.
final class CheckpointWriter {
    let path: String
    private let partial: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var checksum = Checksum64()
    private var steps: UInt64 = 0
    private var finished = false

    init(path: String) throws(ProjectionError) {
        self.path = path
        partial = path + ".partial"
        // The `.partial` path is a name anyone who may write the directory can prepare: a
        // symbolic link there would have this truncate and overwrite whatever it points at, a
        // FIFO would block open(2) for ever, a second hard link would see its file rewritten.
        // So the link is not followed and the file is truncated only once it is known to be a
        // regular file of one name.
        let opened: (fd: Int32, info: stat)
        do { opened = try CheckpointOpening.openRegularFile(partial, flags: O_WRONLY | O_CREAT | O_NOFOLLOW) } catch {
            throw .output(path: partial, reason: error.reason)
        }
        // Checked before `fd` is set: once every property is, a throw runs deinit, which closes it.
        guard opened.info.st_nlink <= 1 else {
            Glibc.close(opened.fd)
            throw .output(path: partial, reason: "it has \(opened.info.st_nlink) names (hard links): writing it would change the file under its other names; remove it")
        }
        guard ftruncate(opened.fd, 0) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(opened.fd)
            throw .output(path: partial, reason: reason)
        }
        fd = opened.fd
        buffer.reserveCapacity(1 << 20)
        buffer.append(contentsOf: CheckpointFile.magic)
        withUnsafeBytes(of: CheckpointFile.version.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(0)) { buffer.append(contentsOf: $0) }
    }

    deinit { Glibc.close(fd) }

    func write(_ step: DossierHistoryEntry) throws(ProjectionError) {
        CheckpointFile.encode(step, into: &buffer)
        steps += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Appends the state and the trailer, and syncs the file.
    func finish(_ set: ProjectionSet, firstEventId: UUID, lastEventId: UUID) throws(ProjectionError) {
        try flush()
        do { try BinaryCoder.encode(set, into: &buffer) } catch { throw .output(path: partial, reason: "cannot encode the state: \(error)") }
        let stateLength = UInt64(buffer.count)
        try flush()
        let trailer = CheckpointFile.Trailer(steps: steps, stateLength: stateLength, position: set.position,
                                             firstEventId: firstEventId, lastEventId: lastEventId)
        buffer = CheckpointFile.encode(trailer) { head in
            checksum.update(head)
            return checksum.value
        }
        try write(buffer)
        buffer.removeAll()
        guard fsync(fd) == 0 else { throw .output(path: partial, reason: String(cString: strerror(errno))) }
        finished = true
    }

    func commit() throws(ProjectionError) {
        precondition(finished)
        guard rename(partial, path) == 0 else { throw .output(path: path, reason: String(cString: strerror(errno))) }
    }

    func discard() { unlink(partial) }

    private func flush() throws(ProjectionError) {
        checksum.update(buffer)
        try write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func write(_ bytes: [UInt8]) throws(ProjectionError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .output(path: partial, reason: String(cString: strerror(errno)))
            }
            offset += n
        }
    }
}

/// A checkpoint read back: the whole file is checked (sizes, magic, version, checksum) before
/// anything in it is used, and the state is decoded and checked for consistency
/// (`ProjectionSet.firstInconsistency()`); the dossier steps are streamed on demand.
final class CheckpointReader {
    let path: String
    let trailer: CheckpointFile.Trailer
    let set: ProjectionSet
    private let fd: Int32

    init(path: String) throws(ProjectionError) {
        self.path = path
        // A FIFO given as the checkpoint would block open(2) for ever, waiting for a writer; a
        // device or a directory is no checkpoint either: each is refused by what it is.
        let opened: (fd: Int32, info: stat)
        do { opened = try CheckpointOpening.openRegularFile(path, flags: O_RDONLY) } catch {
            throw .checkpoint("\(path) cannot be opened: \(error.reason)")
        }
        let (fd, info) = opened
        // A class whose init throws before every property is set runs no deinit: the descriptor
        // is closed here on every way out but the one that keeps it.
        var kept = false
        defer { if !kept { Glibc.close(fd) } }
        let size = Int(info.st_size)
        func damaged(_ why: String) -> ProjectionError { .checkpoint("\(path) is damaged or not a checkpoint of `registre project`: \(why)") }
        guard size >= CheckpointFile.headerSize + CheckpointFile.trailerSize else { throw damaged("it holds only \(size) bytes") }
        let header = try Self.read(fd, at: 0, count: CheckpointFile.headerSize, path: path)
        guard Array(header[0..<8]) == CheckpointFile.magic else { throw damaged("it does not start with RGPRJCKP") }
        let version = header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
        guard version == CheckpointFile.version else {
            throw .checkpoint("\(path) is a checkpoint of format version \(version); this build reads version \(CheckpointFile.version): rebuild without it")
        }
        let tail = try Self.read(fd, at: size - CheckpointFile.trailerSize, count: CheckpointFile.trailerSize, path: path)
        guard let (trailer, expected) = tail.withUnsafeBytes({ CheckpointFile.decodeTrailer($0) }) else {
            throw damaged("its end marker is missing (truncated?)")
        }
        // Every count read from the file is compared with the size without overflowing: a
        // crafted trailer must be refused, not trap.
        let (stepBytes, overflow) = trailer.steps.multipliedReportingOverflow(by: UInt64(CheckpointFile.stepSize))
        let sections = UInt64(size) - UInt64(CheckpointFile.headerSize + CheckpointFile.trailerSize)
        guard !overflow, stepBytes <= sections, trailer.stateLength == sections - stepBytes else {
            throw damaged("its sections do not add up to its size of \(size) bytes")
        }
        // The checksum covers every byte before it: the whole file is read once here.
        var sum = Checksum64()
        var offset = 0
        let covered = size - 16
        while offset < covered {
            let chunk = try Self.read(fd, at: offset, count: min(4 << 20, covered - offset), path: path)
            sum.update(chunk)
            offset += chunk.count
        }
        guard sum.value == expected else { throw damaged("checksum mismatch (stored \(String(expected, radix: 16)), computed \(String(sum.value, radix: 16)))") }
        // The state is decoded through a window of a few MiB, never read whole: the decoded
        // state is what must fit in memory, not also its bytes.
        let stateStart = CheckpointFile.headerSize + Int(stepBytes)
        let window = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 8)
        defer { window.deallocate() }
        let source = BinarySource(length: Int(trailer.stateLength)) { [fd, path] offset, count in
            guard count <= window.count else {
                throw ProjectionError.checkpoint("\(path) holds a value of \(count) bytes in its state")
            }
            let chunk = UnsafeMutableRawBufferPointer(rebasing: window[0..<count])
            try Self.read(fd, at: stateStart + offset, into: chunk, path: path)
            return UnsafeRawBufferPointer(chunk)
        }
        let set: ProjectionSet
        do {
            set = try BinaryCoder.decode(ProjectionSet.self, from: source)
        } catch let error as ProjectionError {
            throw error
        } catch {
            throw damaged("the state does not decode (\(error))")
        }
        guard set.position == trailer.position else { throw damaged("the state is at position \(set.position), the trailer says \(trailer.position)") }
        // The checksum is not a signature: a file altered with care passes it. Nothing folds into
        // the state before every reference in it is known to point where it should.
        if let problem = set.firstInconsistency() { throw damaged("its state is inconsistent: \(problem); delete it to rebuild from zero") }
        // Each dossier event folded wrote one step, and counted one in its dossier.
        let counted = set.dossierBoard.dossiers.reduce(UInt64(0)) { $0 + UInt64($1.steps) }
        guard counted == trailer.steps else {
            throw damaged("it holds \(trailer.steps) dossier steps, but its dossiers count \(counted); delete it to rebuild from zero")
        }
        self.fd = fd
        self.trailer = trailer
        self.set = set
        kept = true
    }

    deinit { Glibc.close(fd) }

    /// Every dossier step saved, in journal order.
    ///
    /// Each must be a step of a dossier of the state, after the one before it and before the
    /// state's position, committed no earlier than the one before it and no later than the
    /// state's last event, with times the catalogue can spell; each dossier's steps must end
    /// where the state says it stands; otherwise this throws, after `body` saw the steps before
    /// the contradiction (the export that streams them then discards its output).
    func forEachStep(_ body: (DossierHistoryEntry) throws -> Void) throws {
        let total = Int(trailer.steps) * CheckpointFile.stepSize
        let perChunk = (1 << 20) / CheckpointFile.stepSize * CheckpointFile.stepSize
        let board = set.dossierBoard
        let lastRecordedAt = set.lastRecordedAtMicros ?? .min
        var seen = [Int32](repeating: 0, count: board.dossiers.count)
        var previous: (position: UInt64, recordedAtMicros: Int64)? = nil
        func damaged(_ why: String) -> ProjectionError {
            .checkpoint("\(path) is damaged or not a checkpoint of `registre project`: \(why); delete it to rebuild from zero")
        }
        func contradiction(_ why: String) -> ProjectionError { damaged("its dossier steps contradict its state: \(why)") }
        var offset = 0
        while offset < total {
            let chunk = try Self.read(fd, at: CheckpointFile.headerSize + offset, count: min(perChunk, total - offset), path: path)
            try chunk.withUnsafeBytes { raw in
                var i = 0
                while i < raw.count {
                    let step: DossierHistoryEntry
                    switch CheckpointFile.decodeStep(UnsafeRawBufferPointer(rebasing: raw[i..<(i + CheckpointFile.stepSize)])) {
                    case .success(let decoded): step = decoded
                    case .failure(let unreadable):
                        throw damaged("its dossier step at byte \(CheckpointFile.headerSize + offset + i) is unreadable: \(unreadable.reason)")
                    }
                    guard let d = board.dossierIndex(of: step.dossierId).map(Int.init) else {
                        throw contradiction("the step at position \(step.position) is of dossier \(step.dossierId.uuidString.lowercased()), which it does not hold")
                    }
                    guard previous.map({ step.position > $0.position }) ?? true, step.position < trailer.position else {
                        throw contradiction("the step at position \(step.position) is not after the one before it and before position \(trailer.position)")
                    }
                    // The journal's commit clock never goes back along the log.
                    guard previous.map({ step.recordedAtMicros >= $0.recordedAtMicros }) ?? true, step.recordedAtMicros <= lastRecordedAt else {
                        throw contradiction("the step at position \(step.position) was committed at \(step.recordedAtMicros) µs, before the step before it or after the last event folded (\(lastRecordedAt) µs)")
                    }
                    previous = (step.position, step.recordedAtMicros)
                    seen[d] += 1
                    let dossier = board.dossiers[d]
                    if seen[d] == dossier.steps, step.position != dossier.lastPosition || step.statusAfter != dossier.status {
                        throw contradiction("dossier \(step.dossierId.uuidString.lowercased()) ends at position \(step.position), \(step.statusAfter.rawValue); the state says \(dossier.lastPosition), \(dossier.status.rawValue)")
                    }
                    try body(step)
                    i += CheckpointFile.stepSize
                }
            }
            offset += chunk.count
        }
        for (d, n) in seen.enumerated() where n != board.dossiers[d].steps {
            throw contradiction("dossier \(board.dossiers[d].id.uuidString.lowercased()) has \(n) steps saved, the state counts \(board.dossiers[d].steps)")
        }
    }

    private static func read(_ fd: Int32, at offset: Int, count: Int, path: String) throws(ProjectionError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let failure: ProjectionError? = out.withUnsafeMutableBytes { raw in
            do throws(ProjectionError) { try read(fd, at: offset, into: raw, path: path); return nil } catch { return error }
        }
        if let failure { throw failure }
        return out
    }

    private static func read(_ fd: Int32, at offset: Int, into out: UnsafeMutableRawBufferPointer, path: String) throws(ProjectionError) {
        var done = 0
        while done < out.count {
            let n = pread(fd, out.baseAddress! + done, out.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .checkpoint("\(path) cannot be read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw .checkpoint("\(path) is shorter than expected (it changed while being read?)") }
            done += n
        }
    }
}

/// open(2) of a checkpoint path, refusing anything but a regular file.
///
/// The path is given on the command line and hostile until checked: a FIFO would block open(2)
/// for ever (waiting for a writer, or for a reader when writing), a device would never end. So
/// the file is opened with `O_NONBLOCK` (which regular files ignore), its type checked with
/// fstat(2), and only then is `O_NONBLOCK` cleared: the checks of the journal's own
/// `FileDescriptor.open`, which is internal to `Journal`.
enum CheckpointOpening {
    struct Refusal: Error {
        /// What was wrong, to follow the path: `it is a FIFO, not a regular file`, or strerror(3).
        var reason: String
    }

    /// The open descriptor (close-on-exec, blocking) and what fstat(2) said of it.
    static func openRegularFile(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(Refusal) -> (fd: Int32, info: stat) {
        var fd: Int32
        repeat { fd = Glibc.open(path, flags | O_CLOEXEC | O_NONBLOCK, mode) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let e = errno
            // A FIFO with no reader (write-only) or a socket refuses with ENXIO, a directory opened
            // for writing with EISDIR, a symbolic link under O_NOFOLLOW with ELOOP: say what it is.
            var st = stat()
            let found = flags & O_NOFOLLOW != 0 ? lstat(path, &st) : stat(path, &st)
            if found == 0, let reason = unexpectedType(st.st_mode) { throw Refusal(reason: reason) }
            throw Refusal(reason: String(cString: strerror(e)))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Refusal(reason: String(cString: strerror(e)))
        }
        if let reason = unexpectedType(st.st_mode) {
            Glibc.close(fd)
            throw Refusal(reason: reason)
        }
        let status = fcntl(fd, F_GETFL)
        guard status >= 0, fcntl(fd, F_SETFL, status & ~O_NONBLOCK) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw Refusal(reason: String(cString: strerror(e)))
        }
        return (fd, st)
    }

    /// Why a file of mode `mode` is not a regular file, or nil when it is one.
    static func unexpectedType(_ mode: mode_t) -> String? {
        let type = mode & S_IFMT
        let found: String
        switch type {
        case S_IFREG: return nil
        case S_IFIFO: found = "a FIFO"
        case S_IFCHR: found = "a character device"
        case S_IFBLK: found = "a block device"
        case S_IFSOCK: found = "a socket"
        case S_IFDIR: found = "a directory"
        case S_IFLNK: found = "a symbolic link"
        default: found = "a file of type \(String(type, radix: 8))"
        }
        return "it is \(found), not a regular file"
    }
}

#if canImport(Glibc)
import Glibc
#endif
