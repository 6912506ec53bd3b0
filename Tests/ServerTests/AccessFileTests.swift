import Foundation
import Testing
@testable import Server

@Suite struct AccessFileTests {
    private func parse(_ json: String) throws -> AccessPolicy {
        try AccessFile.parse(Array(json.utf8), origin: "test.json",
                             resolveUser: { ["booking": 1001, "agent": 1002][$0] },
                             resolveGroup: { ["audit": 3000][$0] })
    }

    @Test func grantsByUidGidUserAndGroupCombineIntoOnePeersPermissions() throws {
        let policy = try parse("""
        {"version":1,"grants":[
          {"user":"booking","role":"appender","eventTypes":["AppointmentBooked"],"streamPrefixes":["slot-","applicant-"]},
          {"uid":1001,"role":"reader"},
          {"group":"audit","role":"auditor"},
          {"gid":4000,"role":"admin"}
        ]}
        """)
        let booking = policy.permissions(for: PeerCredentials(pid: 1, uid: 1001, gid: 100))
        #expect(booking.canRead)
        #expect(!booking.canAudit)
        #expect(booking.appendRefusal(stream: "slot-grenoble-x", type: "AppointmentBooked") == nil)
        #expect(booking.appendRefusal(stream: "dossier-x", type: "AppointmentBooked") != nil)
        #expect(booking.appendRefusal(stream: "slot-grenoble-x", type: "DecisionRecorded") != nil)

        // Group membership counts through the primary gid or a supplementary one.
        let auditorByPrimary = policy.permissions(for: PeerCredentials(pid: 1, uid: 5, gid: 3000))
        let auditorBySupplementary = policy.permissions(for: PeerCredentials(pid: 1, uid: 5, gid: 100), groups: [3000])
        #expect(auditorByPrimary.canAudit && auditorByPrimary.canRead && !auditorByPrimary.canAppendAnything)
        #expect(auditorBySupplementary == auditorByPrimary)

        let admin = policy.permissions(for: PeerCredentials(pid: 1, uid: 7, gid: 4000))
        #expect(admin.appendRefusal(stream: "anything", type: "Anything") == nil && admin.canAudit)

        let stranger = policy.permissions(for: PeerCredentials(pid: 1, uid: 9, gid: 9))
        #expect(stranger == .nothing)
        #expect(policy.permissions(for: nil) == .nothing)
    }

    @Test func ownerOnlyPolicyAllowsTheServersUidAndNobodyElse() {
        let policy = AccessPolicy.ownerOnly(uid: 42)
        #expect(policy.permissions(for: PeerCredentials(pid: 1, uid: 42, gid: 0)) == .everything)
        #expect(policy.permissions(for: PeerCredentials(pid: 1, uid: 43, gid: 0)) == .nothing)
    }

    @Test(arguments: [
        (#"{"grants":[{"uid":1,"role":"reader","colour":"red"}]}"#, "unknown field \"colour\""),
        (#"{"grants":[{"uid":1,"gid":2,"role":"reader"}]}"#, "exactly one of"),
        (#"{"grants":[{"role":"reader"}]}"#, "exactly one of"),
        (#"{"grants":[{"uid":1,"role":"superuser"}]}"#, "\"role\" must be one of"),
        (#"{"grants":[{"uid":-1,"role":"reader"}]}"#, "\"uid\" must be a whole number"),
        (#"{"grants":[{"uid":1.5,"role":"reader"}]}"#, "\"uid\" must be a whole number"),
        (#"{"grants":[{"user":"nobody-here","role":"reader"}]}"#, "is not a user of this system"),
        (#"{"grants":[{"group":"nope","role":"reader"}]}"#, "is not a group of this system"),
        (#"{"grants":[{"uid":1,"role":"reader","eventTypes":["X"]}]}"#, "only limit the \"appender\" role"),
        (#"{"grants":[{"uid":1,"role":"appender","streamPrefixes":[]}]}"#, "non-empty array"),
        (#"{"grants":{}}"#, "\"grants\" must be an array"),
        (#"{"version":2,"grants":[]}"#, "\"version\" must be 1"),
        (#"{"grants":[],"extra":1}"#, "unknown field \"extra\""),
        (#"[1,2]"#, "expected a JSON object"),
        (#"{"grants":["#, "not valid JSON"),
        (#"{"grants":[{"uid":1,"role":"reader","role":"admin"}]}"#, "duplicate key"),
        // JSON booleans bridge to 0 and 1: false must not grant uid 0 (root) a role.
        (#"{"grants":[{"uid":false,"role":"admin"}]}"#, "\"uid\" must be a whole number"),
        (#"{"grants":[{"gid":true,"role":"auditor"}]}"#, "\"gid\" must be a whole number"),
        (#"{"version":true,"grants":[]}"#, "\"version\" must be 1"),
    ])
    func everyMistakeInTheFileIsRefusedWithItsPlace(json: String, expected: String) {
        do throws(AccessFile.Problem) {
            _ = try AccessFile.parse(Array(json.utf8), origin: "test.json", resolveUser: { _ in nil }, resolveGroup: { _ in nil })
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(error.description.hasPrefix("test.json"))
        }
    }

    @Test func anAccessFileOthersMayWriteOrThatAnotherUserOwnsIsRefused() throws {
        let path = NSTemporaryDirectory() + "registre-access-\(UUID().uuidString.prefix(8)).json"
        defer { unlink(path) }
        try #"{"version":1,"grants":[]}"#.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        #expect(AccessFile.ownershipProblem(path) == nil)
        #expect(throws: Never.self) { try AccessFile.load(path: path) }
        for mode: mode_t in [0o664, 0o646, 0o666] {
            chmod(path, mode)
            #expect(AccessFile.ownershipProblem(path)?.contains("writable by its group or by others") == true, "mode \(String(mode, radix: 8))")
            #expect { try AccessFile.load(path: path) } throws: { ($0 as? AccessFile.Problem)?.message.contains("chmod go-w") == true }
        }
        chmod(path, 0o644)
        // Owned by someone who is neither root nor the server's user.
        if getuid() == 0 {
            #expect(chown(path, 12_345, 12_345) == 0)
            #expect(AccessFile.ownershipProblem(path)?.contains("neither root nor the server's user") == true)
        } else {
            #expect(AccessFile.ownershipProblem(path, serverUID: getuid() + 1)?.contains("neither root nor the server's user") == true)
        }
    }

    @Test func systemNamesResolveThroughTheUserDatabase() {
        #expect(AccessFile.systemUserID("root") == 0)
        #expect(AccessFile.systemGroupID("root") == 0)
        #expect(AccessFile.systemUserID("no-such-user-\(UUID().uuidString.prefix(6))") == nil)
    }
}
