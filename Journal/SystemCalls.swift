#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few syscalls the writer's durability depends on, behind an indirection so tests can
/// inject the failures real disks produce: short writes, ENOSPC, EIO from fdatasync.
struct SystemCalls: Sendable {
    var pwrite: @Sendable (_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int64) -> Int
    var fdatasync: @Sendable (_ fd: Int32) -> Int32
    var fsync: @Sendable (_ fd: Int32) -> Int32
    var ftruncate: @Sendable (_ fd: Int32, _ length: Int64) -> Int32

    static let live = SystemCalls(
        pwrite: { fd, buffer, offset in Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) },
        fdatasync: { fd in Glibc.fdatasync(fd) },
        fsync: { fd in Glibc.fsync(fd) },
        ftruncate: { fd, length in Glibc.ftruncate(fd, off_t(length)) }
    )
}

/// An open file descriptor with the journal's error mapping. Closed on deinit.
final class FileDescriptor: @unchecked Sendable {
    let fd: Int32
    let path: String
    let calls: SystemCalls

    private init(fd: Int32, path: String, calls: SystemCalls) {
        self.fd = fd
        self.path = path
        self.calls = calls
    }

    deinit { close(fd) }

    /// open(2), refusing anything but a regular file (a directory with `O_DIRECTORY`).
    ///
    /// Every path under a journal is hostile until checked: a FIFO in place of a segment or an
    /// index would block open(2) for ever, waiting for a writer, and a device would never end.
    /// So the file is opened with `O_NONBLOCK` (which regular files ignore), its type checked with
    /// fstat(2), and only then is `O_NONBLOCK` cleared, unless the caller asked for it.
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644, calls: SystemCalls = .live) throws -> FileDescriptor {
        var fd: Int32
        repeat { fd = Glibc.open(path, flags | O_CLOEXEC | O_NONBLOCK, mode) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let e = errno
            // A FIFO with no reader (write-only) or a socket refuses with ENXIO: say what it is.
            var st = stat()
            if e == ENXIO, stat(path, &st) == 0, let reason = Self.unexpectedType(st.st_mode, flags: flags) {
                throw JournalError.notAJournal(path: path, reason: reason)
            }
            throw JournalError.io(operation: "open", path: path, errno: e)
        }
        let file = FileDescriptor(fd: fd, path: path, calls: calls)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw JournalError.io(operation: "fstat", path: path, errno: errno) }
        if let reason = Self.unexpectedType(st.st_mode, flags: flags) { throw JournalError.notAJournal(path: path, reason: reason) }
        if flags & O_NONBLOCK == 0 {
            let status = fcntl(fd, F_GETFL)
            guard status >= 0, fcntl(fd, F_SETFL, status & ~O_NONBLOCK) == 0 else {
                throw JournalError.io(operation: "fcntl", path: path, errno: errno)
            }
        }
        return file
    }

    /// Why a file of mode `mode` is not what `flags` open (a directory with `O_DIRECTORY`,
    /// otherwise a regular file), or nil when it is.
    private static func unexpectedType(_ mode: mode_t, flags: Int32) -> String? {
        let type = mode & S_IFMT
        let directory = flags & O_DIRECTORY != 0
        if type == (directory ? S_IFDIR : S_IFREG) { return nil }
        let found = switch type {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFDIR: "a directory"
        case S_IFREG: "a regular file"
        default: "a file of type \(String(type, radix: 8))"
        }
        return "it is \(found), not \(directory ? "a directory" : "a regular file")"
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and EINTR (pwrite(2)).
    func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let n = calls.pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), Int64(offset) + Int64(done))
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == ENOSPC || e == EFBIG || e == EDQUOT { throw JournalError.noSpace(path: path) }
                throw JournalError.io(operation: "write", path: path, errno: e)
            }
            if n == 0 { throw JournalError.noSpace(path: path) }
            done += n
        }
    }

    func writeAll(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { (raw) throws in try writeAll(raw, at: offset) }
    }

    /// fdatasync(2): data and the metadata needed to read it back (the file size).
    func syncData() throws {
        var r: Int32
        repeat { r = calls.fdatasync(fd) } while r < 0 && errno == EINTR
        if r < 0 { throw JournalError.io(operation: "fdatasync", path: path, errno: errno) }
    }

    /// fsync(2), used on directories so a new file's name is durable.
    func syncAll() throws {
        var r: Int32
        repeat { r = calls.fsync(fd) } while r < 0 && errno == EINTR
        if r < 0 { throw JournalError.io(operation: "fsync", path: path, errno: errno) }
    }

    func truncate(to length: UInt64) throws {
        var r: Int32
        repeat { r = calls.ftruncate(fd, Int64(length)) } while r < 0 && errno == EINTR
        if r < 0 { throw JournalError.io(operation: "ftruncate", path: path, errno: errno) }
    }

    /// Reads up to `count` bytes at `offset` into `buffer` (pread(2)); returns how many were read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func size() throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw JournalError.io(operation: "fstat", path: path, errno: errno) }
        return UInt64(st.st_size)
    }

    /// CRC32C of the first `length` bytes, read in large chunks.
    func checksum(length: UInt64) throws -> UInt32 { try checksum(of: 0..<length) }

    /// CRC32C of a byte range, read through the page cache in large chunks (not mapped, so the
    /// pages read do not count in this process's resident memory).
    func checksum(of range: Range<UInt64>, extending start: UInt32 = 0) throws -> UInt32 {
        // A small buffer, not zeroed: a large one was a fresh mapping whose pages the kernel
        // cleared for every index opened.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(min(UInt64(64 << 10), max(range.upperBound - range.lowerBound, 1))),
                                                            alignment: 16)
        defer { buffer.deallocate() }
        var crc = start
        var at = range.lowerBound
        let length = range.upperBound
        while at < length {
            let want = Int(min(UInt64(buffer.count), length - at))
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: at)
            guard n == want else { throw JournalError.io(operation: "read", path: path, errno: EIO) }
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), extending: crc)
            at += UInt64(n)
        }
        return crc
    }

    /// The whole of a small regular file, or nil when it is missing, unreadable, not a regular
    /// file (a FIFO would block, a device never end) or larger than `limit` bytes: for the small
    /// files a hostile copy of a journal may hold (checkpoints, keys).
    static func contentsOfSmallFile(_ path: String, limit: Int) -> [UInt8]? {
        guard let file = try? open(path, flags: O_RDONLY | O_NONBLOCK), let size = try? file.size(), size <= UInt64(max(limit, 0)) else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        guard let n = try? bytes.withUnsafeMutableBytes({ try file.read(into: $0, at: 0) }), n == bytes.count else { return nil }
        return bytes
    }

    func unlock() { flock(fd, LOCK_UN) }

    /// An exclusive advisory lock (flock(2)), so two writers never share a journal.
    func lockExclusively() -> Bool {
        flock(fd, LOCK_EX | LOCK_NB) == 0
    }

    static func syncDirectory(_ path: String, calls: SystemCalls = .live) throws {
        let dir = try open(path, flags: O_RDONLY | O_DIRECTORY, calls: calls)
        try dir.syncAll()
    }
}

/// A read-only memory map of an immutable file (a sealed segment's index).
final class MappedFile: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        let file = try FileDescriptor.open(path, flags: O_RDONLY)
        let size = Int(try file.size())
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        // The descriptor must outlive the call: an optimised build may release `file` (and close
        // its number) right after reading `file.fd`, and another thread may get that number.
        let mapped = withExtendedLifetime(file) { mmap(nil, size, PROT_READ, MAP_SHARED, file.fd, 0) }
        guard let p = mapped, p != MAP_FAILED else {
            throw JournalError.io(operation: "mmap", path: path, errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// The names in a directory, read with `opendir`/`readdir` so that a failure while reading is an
/// error.
///
/// Foundation's `contentsOfDirectory(atPath:)` on Linux reports only a failing `opendir`: a
/// `readdir` that fails (EIO, or EBADF when another thread closed the number) ends the listing
/// early, without an error. For a journal that is dangerous: a short listing of segments looks
/// like a short journal, and an empty one like a new journal whose first segment is then created.
public enum DirectoryListing {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var errno: Int32
        /// True when the directory itself does not exist (ENOENT).
        public var isMissing: Bool { errno == ENOENT }
        public var description: String { "cannot list \(path): \(String(cString: strerror(errno))) (errno \(errno))" }
    }

    /// Every entry's name except `.` and `..`, in the directory's own order.
    public static func names(in path: String) throws(Failure) -> [String] {
        try names(in: path, reading: { readdir($0) })
    }

    /// The same with `readdir` given, so that tests can make it fail part-way (EIO from a
    /// damaged directory block), which a real directory cannot be made to do on demand.
    static func names(in path: String, reading next: (OpaquePointer) -> UnsafeMutablePointer<dirent>?) throws(Failure) -> [String] {
        guard let directory = opendir(path) else { throw Failure(path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = next(directory) else {
                if errno != 0 { throw Failure(path: path, errno: errno) }
                return names
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}

/// Small files a command is handed (keys, receipts, proofs, access files), read the way the
/// journal reads its own checkpoints: a FIFO or a device in their place is refused, not waited on.
public enum SmallFile {
    /// The whole file, or nil when it is missing, unreadable, not a regular file or larger than `limit` bytes.
    public static func contents(atPath path: String, limit: Int) -> [UInt8]? {
        FileDescriptor.contentsOfSmallFile(path, limit: limit)
    }
}
