import Foundation
import Testing
@testable import Journal

/// `registre recover`: its statuses, and that it changes the journal only with `--cut`.
@Suite(.serialized) struct RecoverCommandTests {
    /// A journal of several segments whose last segment has a flipped byte in a frame with sound
    /// frames after it: the writer refuses to open it. Returns that frame's first position.
    private func damagedJournal(_ path: String) throws -> (segment: String, offset: UInt64, position: UInt64) {
        try writeJournal(path, count: 300)
        let last = segmentFiles(in: path).last!
        var frames: [(offset: UInt64, position: UInt64)] = []
        _ = try JournalVerifier.verify(directory: path, observe: { if $0.file == last { frames.append(($0.offset, $0.firstPosition)) } })
        #expect(frames.count >= 3, "the last segment holds \(frames.count) frames")
        let target = frames[frames.count - 3]
        let file = path + "/" + last
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[Int(target.offset) + JournalFormat.frameHeaderSize + 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: file))
        return (last, target.offset, target.position)
    }

    @Test func recoverListsTheCutAndExitsOneWithoutChangingAnythingThenCutsWithCut() throws {
        let scratch = ScratchDirectory("recover")
        let (segment, offset, position) = try damagedJournal(scratch.path)
        #expect(try registre(["verify", "--journal", scratch.path]).exited(1))
        let before = try Data(contentsOf: URL(fileURLWithPath: scratch.file(segment)))

        let look = try registre(["recover", "--journal", scratch.path])
        #expect(look.exited(1), "\(look)")
        #expect(look.out.contains("\(segment) byte \(offset)") && look.out.contains("keeps positions 0..<\(position)"), "\(look.out)")
        #expect(look.out.contains("2 sound frame(s) after the damage"), "\(look.out)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file(segment))) == before, "recover without --cut changed the segment")

        let cut = try registre(["recover", "--journal", scratch.path, "--cut"])
        #expect(cut.exited(0), "\(cut)")
        let kept = scratch.file("quarantine/\(segment).\(offset).cut")
        #expect(try Data(contentsOf: URL(fileURLWithPath: kept)) == before[Int(offset)...])
        #expect(try registre(["verify", "--journal", scratch.path]).exited(0))
        #expect(try registre(["replay", "--journal", scratch.path]).out.split(separator: "\n").count == Int(position))

        let again = try registre(["recover", "--journal", scratch.path])
        #expect(again.exited(0) && again.out.contains("nothing to cut"), "\(again)")
    }

    @Test func recoverExitsTwoOnAHeaderItMustNotCutAndOnAMissingJournal() throws {
        let scratch = ScratchDirectory("recover-header")
        try writeJournal(scratch.path, count: 300)
        let last = scratch.file(segmentFiles(in: scratch.path).last!)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: last))
        bytes[20] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: last))
        let header = try registre(["recover", "--journal", scratch.path, "--cut"])
        #expect(header.exited(2) && header.err.contains("not cut"), "\(header)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: last)) == bytes)

        let missing = try registre(["recover", "--journal", scratch.file("none")])
        #expect(missing.exited(2) && missing.err.contains(scratch.file("none")), "\(missing)")
    }
}
