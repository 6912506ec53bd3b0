import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors that stop the server from starting, each saying what to do.
public enum ServerStartError: Error, CustomStringConvertible, Sendable {
    case alreadyRunning(path: String)
    case notASocket(path: String)
    case pathTooLong(path: String)
    case cannotPrepare(path: String, reason: String)
    case notInitial

    public var description: String {
        switch self {
        case .alreadyRunning(let p): "a server is already listening on \(p); stop it first or choose another --socket"
        case .notASocket(let p): "\(p) exists and is not a socket; refusing to replace it"
        case .pathTooLong(let p): "the socket path \(p) is longer than the 107 bytes a Unix socket address holds"
        case .cannotPrepare(let p, let r): "cannot use \(p) as the socket: \(r)"
        case .notInitial: "this server has already been started"
        }
    }
}

/// The socket file's life: a stale one left by a crashed run is replaced, a live one is not.
enum SocketFile {
    /// A name beside `path` to bind under before the socket is moved into place, or nil when
    /// it would not fit in a socket address (the socket is then bound at `path` itself).
    static func temporaryName(for path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (directory.isEmpty ? "" : directory + "/") + ".registre-\(getpid())-\(UInt16.random(in: 0...UInt16.max)).sock"
        return name.utf8.count <= 107 ? name : nil
    }

    /// Makes `path` free for bind, or throws. Liveness is decided by connecting: a server that
    /// accepts is alive; ECONNREFUSED means nobody listens any more.
    static func prepare(_ path: String) throws(ServerStartError) {
        guard path.utf8.count <= 107 else { throw .pathTooLong(path: path) }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .cannotPrepare(path: path, reason: String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path) }
        switch probe(path) {
        case 0: throw .alreadyRunning(path: path)
        case ECONNREFUSED, ENOENT:
            guard unlink(path) == 0 || errno == ENOENT else {
                throw .cannotPrepare(path: path, reason: "the stale socket cannot be removed: \(String(cString: strerror(errno)))")
            }
        case let e:
            throw .cannotPrepare(path: path, reason: "connecting to the existing socket failed with \(String(cString: strerror(e)))")
        }
    }

    /// 0 when something accepts connections at `path`, else the errno of connect(2).
    static func probe(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0 ? 0 : errno
    }

    /// Which file a socket path names (device and inode), to tell this server's socket from one
    /// another server put at the same path later.
    struct Identity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    static func identity(of path: String) -> Identity? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Removes the socket at `path` if it is still `ours`: a server that started while this one
    /// was draining (it found the socket no longer answering) has put its own there, which must stay.
    static func remove(_ path: String, ifStill ours: Identity?) {
        guard let ours, identity(of: path) == ours else { return }
        unlink(path)
    }
}
