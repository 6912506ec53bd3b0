import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who may do what, decided from the peer's uid and gids.
///
/// Without an access file only the server's own uid may connect, and it may do everything. With
/// one, the file is the whole truth: the server's own uid gets only what the file grants it.
public struct AccessPolicy: Sendable {
    public struct Grant: Sendable, Equatable {
        public enum Subject: Sendable, Equatable {
            case uid(UInt32)
            case gid(UInt32)
        }
        public var subject: Subject
        /// How the file named the subject, for messages and logs.
        public var spelledAs: String
        public var permissions: Permissions
    }

    public private(set) var grants: [Grant]
    /// Where the policy came from, for the start-up log line.
    public let origin: String

    /// Only `uid` (the server's own), with every permission.
    public static func ownerOnly(uid: UInt32 = getuid()) -> AccessPolicy {
        AccessPolicy(grants: [Grant(subject: .uid(uid), spelledAs: "uid \(uid) (the server's own)", permissions: .everything)],
                     origin: "no access file: only uid \(uid) is allowed")
    }

    public init(grants: [Grant], origin: String) {
        self.grants = grants
        self.origin = origin
    }

    /// The union of the grants that match the peer; `groups` are its supplementary groups.
    public func permissions(for peer: PeerCredentials?, groups: [UInt32] = []) -> Permissions {
        guard let peer else { return .nothing }
        var result = Permissions.nothing
        for grant in grants {
            switch grant.subject {
            case .uid(let uid) where uid == peer.uid: result.merge(grant.permissions)
            case .gid(let gid) where gid == peer.gid || groups.contains(gid): result.merge(grant.permissions)
            default: break
            }
        }
        return result
    }

    /// Whether any grant names a group, so supplementary groups need looking up per connection.
    var namesGroups: Bool { grants.contains { if case .gid = $0.subject { true } else { false } } }
}

/// The supplementary groups of the user owning `uid`, from the system's user database.
func supplementaryGroups(uid: UInt32, primaryGid: UInt32) -> [UInt32] {
    var pwd = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 16 << 10)
    guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil, let name = pwd.pw_name else { return [] }
    var count: Int32 = 64
    var groups = [gid_t](repeating: 0, count: Int(count))
    if getgrouplist(name, primaryGid, &groups, &count) < 0 {
        groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(name, primaryGid, &groups, &count) >= 0 else { return [] }
    }
    return Array(groups.prefix(Int(count)))
}
