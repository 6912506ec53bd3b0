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

    /// A fresh directory, links resolved, only its owner may write (whatever the umask).
    private func privateDirectory(_ label: String) -> String {
        let made = NSTemporaryDirectory() + "registre-access-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: true)
        chmod(made, 0o700)
        return URL(fileURLWithPath: made).resolvingSymlinksInPath().path
    }

    private func write(_ text: String, to path: String, mode: mode_t) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
    }

    /// `AccessFile.load` on another thread, at most 10 s; a FIFO it still waits on is then opened
    /// for writing so that the thread ends, and the test fails instead of hanging.
    private func loadFinishes(_ path: String) -> Result<AccessPolicy, AccessFile.Problem>? {
        final class Box: @unchecked Sendable { var result: Result<AccessPolicy, AccessFile.Problem>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.result = Result { () throws(AccessFile.Problem) in try AccessFile.load(path: path) }
            done.signal()
        }.start()
        if done.wait(timeout: .now() + 10) == .success { return box.result }
        Issue.record("still blocked on \(path) after 10 s")
        repeat {
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        } while done.wait(timeout: .now() + 0.1) == .timedOut
        return nil
    }

    @Test func aFIFOOrADirectoryGivenAsTheAccessFileIsRefusedAtOnceByWhatItIs() throws {
        let dir = privateDirectory("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/pipe.json", directory = dir + "/directory.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(mkdir(directory, 0o700) == 0)
        for (path, what) in [(fifo, "a FIFO"), (directory, "a directory")] {
            let outcome = loadFinishes(path)
            guard case .failure(let problem)? = outcome else { Issue.record("\(path): \(String(describing: outcome))"); continue }
            #expect(problem.message == "cannot read the access file \(path): it is \(what), not a regular file")
        }
    }

    /// The file swapped between open(2) and the checks: what is judged must be what is read.
    @Test func theOwnerAndModeCheckedAreThoseOfTheFileWhoseBytesAreRead() throws {
        let dir = privateDirectory("swap")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/access.json", replacement = dir + "/replacement.json"
        let sound = #"{"version":1,"grants":[]}"#, granting = #"{"version":1,"grants":[{"uid":1,"role":"admin"}]}"#
        // Opened: a file others may write, granting a role; a sound one takes its name after.
        try write(granting, to: path, mode: 0o666)
        try write(sound, to: replacement, mode: 0o644)
        #expect {
            try AccessFile.load(path: path, serverUID: getuid(), afterOpening: { rename(replacement, path) })
        } throws: { ($0 as? AccessFile.Problem)?.message.contains("chmod go-w") == true }
        // Opened: the sound file; one others may write, granting a role, takes its name after.
        try write(sound, to: path, mode: 0o644)
        try write(granting, to: replacement, mode: 0o666)
        let policy = try AccessFile.load(path: path, serverUID: getuid(), afterOpening: { rename(replacement, path) })
        #expect(policy.grants.isEmpty, "the bytes read are those of the file checked")
    }

    /// Whoever may write a directory above the file may put another file in its place.
    @Test func aDirectoryAboveTheFileOthersMayWriteOrAnotherUserOwnsIsRefusedUnlessSticky() throws {
        let dir = privateDirectory("parent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/access.json"
        try write(#"{"version":1,"grants":[]}"#, to: path, mode: 0o644)
        #expect(throws: Never.self) { try AccessFile.load(path: path) }
        for mode: mode_t in [0o777, 0o775, 0o757] {
            chmod(dir, mode)
            #expect { try AccessFile.load(path: path) } throws: {
                ($0 as? AccessFile.Problem)?.message.contains("its directory \(dir) is writable by its group or by others and not sticky") == true
            }
        }
        // Sticky (as /tmp): others may add names there, not replace the server's file.
        chmod(dir, 0o1777)
        #expect(throws: Never.self) { try AccessFile.load(path: path) }
        chmod(dir, 0o755)
        #expect(throws: Never.self) { try AccessFile.load(path: path) }
        if getuid() == 0 {
            #expect(chown(dir, 12_345, 12_345) == 0)
            #expect { try AccessFile.load(path: path) } throws: {
                ($0 as? AccessFile.Problem)?.message.contains("its directory \(dir) is owned by uid 12345, neither root nor the server's user") == true
            }
            #expect(chown(dir, getuid(), getgid()) == 0)
        } else {
            #expect { try AccessFile.load(path: path, serverUID: getuid() + 1) } throws: {
                ($0 as? AccessFile.Problem)?.message.contains("its directory \(dir) is owned by uid \(getuid())") == true
            }
        }
        // Reached through a link from a safe directory, it is the file's own directories that count.
        chmod(dir, 0o777)
        let safe = privateDirectory("link")
        defer { try? FileManager.default.removeItem(atPath: safe) }
        #expect(symlink(path, safe + "/access.json") == 0)
        #expect { try AccessFile.load(path: safe + "/access.json") } throws: {
            ($0 as? AccessFile.Problem)?.message.contains("its directory \(dir) is writable") == true
        }
    }

    @Test func systemNamesResolveThroughTheUserDatabase() {
        #expect(AccessFile.systemUserID("root") == 0)
        #expect(AccessFile.systemGroupID("root") == 0)
        #expect(AccessFile.systemUserID("no-such-user-\(UUID().uuidString.prefix(6))") == nil)
    }
}
