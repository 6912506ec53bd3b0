import Foundation
import Journal
#if canImport(Glibc)
import Glibc
#endif

/// Reads the access file (docs/SERVER.md, "Access file"). Every mistake is refused with its place
/// in the file, so that a typo never silently widens or narrows access.
public enum AccessFile {
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static let roles = ["reader", "auditor", "appender", "admin"]

    /// The largest access file read.
    static let sizeLimit = 1 << 20

    public static func load(path: String) throws(Problem) -> AccessPolicy {
        try load(path: path, serverUID: getuid())
    }

    /// The file is opened once, and its type, owner and mode are those of that descriptor
    /// (fstat(2)), whose bytes are then read: a file swapped in after the checks (or between a
    /// read and a stat(2) of the path) is never the one trusted. `afterOpening` runs between
    /// open(2) and fstat(2), for tests that swap the file there.
    static func load(path: String, serverUID: uid_t, afterOpening: () -> Void = {}) throws(Problem) -> AccessPolicy {
        func unreadable(_ why: String) -> Problem { Problem(message: "cannot read the access file \(path): \(why)") }
        // Every directory above it too: whoever may write one of them may put another file in
        // its place. Checked on the path with its links resolved, which is then the one opened.
        guard let resolvedPointer = realpath(path, nil) else { throw unreadable(String(cString: strerror(errno))) }
        let resolved = String(cString: resolvedPointer)
        free(resolvedPointer)
        if let problem = directoryProblem(above: resolved, serverUID: serverUID) { throw Problem(message: "\(path): \(problem)") }
        // O_NONBLOCK: a FIFO in its place would block open(2) for ever, waiting for a writer.
        // Regular files ignore it, and nothing but a regular file is read.
        var fd: Int32
        repeat { fd = open(resolved, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let e = errno
            // A socket refuses with ENXIO: say what it is.
            var st = stat()
            if lstat(resolved, &st) == 0, let found = unexpectedType(st.st_mode) { throw unreadable("it is \(found), not a regular file") }
            throw unreadable(String(cString: strerror(e)))
        }
        defer { close(fd) }
        afterOpening()
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw unreadable("cannot stat it (errno \(errno))") }
        if let found = unexpectedType(info.st_mode) { throw unreadable("it is \(found), not a regular file") }
        if let problem = ownershipProblem(of: info, serverUID: serverUID) { throw Problem(message: "\(path): \(problem)") }
        guard info.st_size <= sizeLimit else { throw unreadable("it holds \(info.st_size) bytes, over 1 MiB") }
        // Read to the end, one byte past the limit at most: the file may have grown since fstat.
        var bytes = [UInt8](repeating: 0, count: sizeLimit + 1)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw unreadable(String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        guard done <= sizeLimit else { throw unreadable("it holds over 1 MiB") }
        bytes.removeSubrange(done...)
        return try parse(bytes, origin: path)
    }

    /// Whoever may write the access file may grant themselves any role, so it must be owned by
    /// root or by the server's own user and writable by no one else (as sshd's StrictModes asks
    /// of authorized_keys). This one stats the path; `load` judges the descriptor it reads.
    static func ownershipProblem(_ path: String, serverUID: uid_t = getuid()) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "cannot stat it (errno \(errno))" }
        return ownershipProblem(of: info, serverUID: serverUID)
    }

    static func ownershipProblem(of info: stat, serverUID: uid_t) -> String? {
        if info.st_uid != 0 && info.st_uid != serverUID {
            return "it is owned by uid \(info.st_uid), neither root nor the server's user (uid \(serverUID)): whoever owns it may grant any role"
        }
        if info.st_mode & 0o022 != 0 {
            return "it is writable by its group or by others (mode \(String(info.st_mode & 0o777, radix: 8))): whoever may write it may grant any role; chmod go-w it"
        }
        return nil
    }

    /// The same rule for every directory above the file (`resolved`, an absolute path without
    /// links), as sshd's StrictModes: each must be owned by root or the server's user and
    /// writable by no one else, unless it is sticky (as /tmp), where others may add names but not
    /// replace or remove the file.
    static func directoryProblem(above resolved: String, serverUID: uid_t) -> String? {
        var directory = resolved
        repeat {
            directory = directory.lastIndex(of: "/").map { $0 == directory.startIndex ? "/" : String(directory[..<$0]) } ?? "/"
            var info = stat()
            guard stat(directory, &info) == 0 else { return "cannot stat its directory \(directory) (errno \(errno))" }
            if info.st_uid != 0 && info.st_uid != serverUID {
                return "its directory \(directory) is owned by uid \(info.st_uid), neither root nor the server's user (uid \(serverUID)): whoever owns it may replace the file and grant any role"
            }
            if info.st_mode & 0o022 != 0 && info.st_mode & S_ISVTX == 0 {
                return "its directory \(directory) is writable by its group or by others and not sticky (mode \(String(info.st_mode & 0o7777, radix: 8))): whoever may write it may replace the file and grant any role; chmod go-w it"
            }
        } while directory != "/"
        return nil
    }

    private static func unexpectedType(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFDIR: "a directory"
        case S_IFLNK: "a symbolic link"
        case let type: "a file of type \(String(type, radix: 8))"
        }
    }

    /// Parses the file's bytes; user and group names are resolved now, once.
    public static func parse(_ bytes: [UInt8], origin: String,
                             resolveUser: (String) -> UInt32? = systemUserID, resolveGroup: (String) -> UInt32? = systemGroupID) throws(Problem) -> AccessPolicy {
        // Strict first: a key given twice (`"role":"reader","role":"admin"`) would otherwise be
        // read as one of its values, silently.
        do { try JSONValidation.validateObject(bytes) } catch {
            throw Problem(message: "\(origin): not valid JSON (\(error.description))")
        }
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: Data(bytes)) } catch {
            throw Problem(message: "\(origin): not valid JSON")
        }
        guard let object = root as? [String: Any] else { throw Problem(message: "\(origin): expected a JSON object with \"grants\"") }
        for key in object.keys where key != "grants" && key != "version" {
            throw Problem(message: "\(origin): unknown field \"\(key)\" (expected \"version\" and \"grants\")")
        }
        if let version = object["version"], isBoolean(version) || (version as? Int) != 1 {
            throw Problem(message: "\(origin): \"version\" must be 1")
        }
        guard let list = object["grants"] as? [Any] else { throw Problem(message: "\(origin): \"grants\" must be an array") }
        var grants: [AccessPolicy.Grant] = []
        for (index, item) in list.enumerated() {
            let place = "\(origin): grants[\(index)]"
            guard let entry = item as? [String: Any] else { throw Problem(message: "\(place) must be an object") }
            let known: Set<String> = ["user", "uid", "group", "gid", "role", "eventTypes", "streamPrefixes"]
            for key in entry.keys where !known.contains(key) {
                throw Problem(message: "\(place): unknown field \"\(key)\" (expected one of \(known.sorted().joined(separator: ", ")))")
            }
            let subjects = ["user", "uid", "group", "gid"].filter { entry[$0] != nil }
            guard subjects.count == 1 else {
                throw Problem(message: "\(place) must name exactly one of \"user\", \"uid\", \"group\", \"gid\" (found \(subjects.isEmpty ? "none" : subjects.joined(separator: ", ")))")
            }
            let subject: AccessPolicy.Grant.Subject
            let spelled: String
            switch subjects[0] {
            case "user":
                guard let name = entry["user"] as? String, let uid = resolveUser(name) else {
                    throw Problem(message: "\(place): \"user\" \(String(describing: entry["user"]!)) is not a user of this system")
                }
                subject = .uid(uid); spelled = "user \(name)"
            case "group":
                guard let name = entry["group"] as? String, let gid = resolveGroup(name) else {
                    throw Problem(message: "\(place): \"group\" \(String(describing: entry["group"]!)) is not a group of this system")
                }
                subject = .gid(gid); spelled = "group \(name)"
            case "uid":
                guard let uid = wholeNumber(entry["uid"]) else { throw Problem(message: "\(place): \"uid\" must be a whole number") }
                subject = .uid(uid); spelled = "uid \(uid)"
            default:
                guard let gid = wholeNumber(entry["gid"]) else { throw Problem(message: "\(place): \"gid\" must be a whole number") }
                subject = .gid(gid); spelled = "gid \(gid)"
            }
            guard let role = entry["role"] as? String, roles.contains(role) else {
                throw Problem(message: "\(place): \"role\" must be one of \(roles.joined(separator: ", "))")
            }
            let types = try stringList(entry["eventTypes"], "eventTypes", place)
            let prefixes = try stringList(entry["streamPrefixes"], "streamPrefixes", place)
            if role != "appender", types != nil || prefixes != nil {
                throw Problem(message: "\(place): \"eventTypes\" and \"streamPrefixes\" only limit the \"appender\" role")
            }
            let permissions: Permissions = switch role {
            case "reader": Permissions(canRead: true)
            case "auditor": Permissions(canRead: true, canAudit: true)
            case "admin": .everything
            default: Permissions(appendScopes: [AppendScope(eventTypes: types.map(Set.init), streamPrefixes: prefixes)])
            }
            grants.append(AccessPolicy.Grant(subject: subject, spelledAs: spelled, permissions: permissions))
        }
        return AccessPolicy(grants: grants, origin: "access file \(origin) (\(grants.count) grants)")
    }

    /// The class JSONSerialization gives `true` and `false`: they also bridge to NSNumber (as 1
    /// and 0), so `"uid": false` would otherwise read as uid 0.
    private static let booleanType = ObjectIdentifier(type(of: try! JSONSerialization.jsonObject(with: Data("true".utf8), options: .fragmentsAllowed)))

    private static func isBoolean(_ value: Any) -> Bool { ObjectIdentifier(type(of: value)) == booleanType }

    private static func wholeNumber(_ value: Any?) -> UInt32? {
        guard let value, !isBoolean(value), let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double >= 0, double <= Double(UInt32.max), double.rounded() == double else { return nil }
        return UInt32(double)
    }

    private static func stringList(_ value: Any?, _ key: String, _ place: String) throws(Problem) -> [String]? {
        guard let value else { return nil }
        guard let list = value as? [String], !list.isEmpty, list.allSatisfy({ !$0.isEmpty }) else {
            throw Problem(message: "\(place): \"\(key)\" must be a non-empty array of non-empty strings")
        }
        return list
    }

    public static func systemUserID(_ name: String) -> UInt32? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getpwnam_r(name, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return pwd.pw_uid
    }

    public static func systemGroupID(_ name: String) -> UInt32? {
        var grp = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 64 << 10)
        guard getgrnam_r(name, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }
}
