import CPeerCredentials
import NIOCore

/// Who is at the other end of a Unix-socket connection, as the kernel vouches for it (SO_PEERCRED).
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "uid \(uid) gid \(gid) pid \(pid)" }

    /// Reads the credentials of a freshly accepted Unix-socket channel; nil for TCP or on failure.
    /// Must run on the channel's event loop (getsockopt on the descriptor it owns).
    static func of(_ channel: any Channel) -> PeerCredentials? {
        // Linux answers SO_PEERCRED on TCP sockets too, with the overflow uid: never trust that.
        guard case .unixDomainSocket? = channel.localAddress else { return nil }
        let read = try? channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { fd -> PeerCredentials? in
            var raw = registre_peer_credentials()
            guard registre_peer_credentials_get(fd, &raw) == 0 else { return nil }
            return PeerCredentials(pid: raw.pid, uid: raw.uid, gid: raw.gid)
        }
        return read ?? nil
    }
}
