import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI may write. A command that reads a journal never writes into it: the journal's
/// directory holds only what its writer put there, and a stray file named like a segment would
/// be read as one. Paths are compared after resolving symbolic links and `..`, so no spelling
/// of a path leads around the check.
enum OutputPaths {
    /// `path` made absolute with every symbolic link resolved, as far as it exists: a file not
    /// yet created resolves through its nearest existing parent. `..` is left to the kernel
    /// where the path exists (after a link it climbs from the link's target, not from the link),
    /// and is only spelled out textually in the part that does not exist yet.
    static func resolved(_ path: String) -> String {
        var existing = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var missing: [String] = []
        var base = "/"
        while !existing.isEmpty, existing != "/" {
            if let real = realpath(existing, nil) {
                base = String(cString: real)
                free(real)
                break
            }
            missing.append((existing as NSString).lastPathComponent)
            existing = (existing as NSString).deletingLastPathComponent
        }
        var components = base.split(separator: "/").map(String.init)
        for component in missing.reversed() {
            switch component {
            case "", ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// True when `path` is `directory` or anything below it.
    static func isAtOrUnder(_ path: String, _ directory: String) -> Bool {
        let p = resolved(path), d = resolved(directory)
        return p == d || p.hasPrefix(d.hasSuffix("/") ? d : d + "/")
    }

    /// Refuses an output path at or under the journal directory, naming the flag.
    static func refuseInside(journal: String, _ path: String, flag: String) throws {
        if isAtOrUnder(path, journal) {
            throw ValidationError("\(flag) \(path) is inside the journal directory \(journal): write it somewhere else")
        }
    }

    /// Creates `path` with `bytes`, refusing a file that is already there (O_EXCL: no race
    /// can turn this into an overwrite either).
    static func writeNew(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it already exists; remove it or name another file" : String(cString: strerror(errno))
            throw ValidationError("cannot create \(path): \(reason)")
        }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                unlink(path)
                throw ValidationError("cannot write \(path): \(reason)")
            }
            written += n
        }
    }
}
