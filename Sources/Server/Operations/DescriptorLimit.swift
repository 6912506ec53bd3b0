import Glibc
import Journal

/// The process's limit on open descriptors, raised so that the connection limit can be reached.
///
/// Debian's default soft limit (1024) is below what a full server needs: one descriptor per
/// connection, plus the journal's segments and indexes, plus the listener. Hitting it makes
/// `accept` fail in a loop and the journal unable to open a segment when it seals, so the server
/// raises its soft limit towards the hard one at start, and says when even that is too low.
enum DescriptorLimit {
    /// Descriptors kept for what is opened later: segments sealed while serving, checkpoints,
    /// indexes being written.
    static let reserve = 256

    /// Raises the soft limit to fit `connections` on top of what the process holds already (the
    /// journal keeps one descriptor per sealed segment, the event loops a few each); returns the
    /// limit in force afterwards and whether it fits.
    static func raise(toFit connections: Int) -> (soft: Int, wanted: Int, enough: Bool) {
        let held = (try? DirectoryListing.names(in: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0, false) }
        let wanted = rlim_t(connections + held + reserve)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = limit.rlim_max == rlim_t.max ? wanted : min(wanted, limit.rlim_max)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let soft = limit.rlim_cur == rlim_t.max ? Int.max : Int(limit.rlim_cur)
        return (soft, Int(wanted), soft >= Int(wanted))
    }
}
