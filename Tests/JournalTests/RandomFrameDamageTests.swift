import Foundation
import Testing
@testable import Journal

/// Seeded rounds of random bytes in a sealed segment's frames, each frame's CRC32C made right
/// again, so the readers get past the checksum to the fields and the payload behind it. None may
/// trap (a trap would end this test process); what verification calls clean, or an open that
/// checks the sealed segments first accepts, reads back as the original log. The fast readers
/// skip the chain hash: of them only "refuse or read, never trap" is asked.
@Suite struct RandomFrameDamageTests {
    private func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    private func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    /// Every file under `root` and its bytes.
    private func snapshot(_ root: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        let names = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        for name in names {
            var isDirectory: ObjCBool = false
            let path = root + "/" + name
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { files[path] = try read(path) }
        }
        return files
    }

    /// Puts every file of `files` back as it was, and removes any file that was not there.
    private func restore(_ root: String, to files: [String: [UInt8]]) throws {
        for path in try snapshot(root).keys where files[path] == nil { try FileManager.default.removeItem(atPath: path) }
        for (path, bytes) in files where (try? read(path)) != bytes { try write(bytes, path) }
    }

    /// A journal of two or more segments whose first, sealed, holds plain and zstd frames.
    private func sealedJournal(_ dir: TemporaryDirectory, _ options: JournalOptions) throws -> String {
        let j = try Journal.open(directory: dir.path, options: options)
        for i in 0..<6 { try j.append([event("s", data: #"{"i":\#(i)}"#), event("other-\(i % 3)")]) }
        try j.append((0..<4).map { event("z", data: #"{"i":\#($0),"text":"\#(String(repeating: "abc", count: 120))"}"#) })
        while j.segmentCount < 2 { try j.append([event("filler")]) }
        j.close()
        return dir.file(dir.segmentFiles()[0])
    }

    @Test func randomlyAlteredFramesWithSoundChecksumsAreRefusedOrReadAsTheOriginalNeverTrap() throws {
        let dir = TemporaryDirectory()
        let options = testOptions(segmentSize: 2_500, durability: .relaxed, check: .never)
        var checking = options
        checking.sealedSegmentCheck = .beforeOpening
        let segment = try sealedJournal(dir, options)
        let original = try read(segment)
        let frames = frameOffsets(original)
        #expect(frames.count >= 4)
        #expect(frames.contains { original[$0 + 12] == FrameHeader.Codec.zstd.rawValue }, "a zstd frame is among those altered")
        let log = try JournalReader(directory: dir.path).read()
        let pristine = try snapshot(dir.path)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)

        var random = SplitMix(state: 0xF4A3_E5)
        var flagged = 0, clean = 0, opened = 0, readByReader = 0, readByJournal = 0
        let rounds = 120
        for round in 0..<rounds {
            var bytes = original
            let frame = frames[random.below(frames.count)]
            let stored = Int(original.getInteger(at: frame + 4, as: UInt32.self))
            for _ in 0..<(1 + random.below(3)) {
                // Half the changes in the 60 header bytes the CRC covers, half in the stored bytes.
                let at = random.below(2) == 0 || stored == 0 ? frame + random.below(60) : frame + 64 + random.below(stored)
                bytes[at] = UInt8(truncatingIfNeeded: random.next())
            }
            resealFrame(&bytes, at: frame)
            try write(bytes, segment)
            defer { #expect(throws: Never.self) { try restore(dir.path, to: pristine) } }

            // Verification checks the chain hash: what it calls clean is the original log.
            do {
                let report = try JournalVerifier.verify(directory: dir.path)
                if report.isClean {
                    clean += 1
                    let again = try JournalReader(directory: dir.path).read()
                    #expect(again == log, "round \(round): verification called a changed frame at \(frame) clean and it reads otherwise")
                } else {
                    flagged += 1
                }
            } catch let error as JournalError {
                guard case .corrupt = error else { Issue.record("round \(round): verification threw \(error)"); continue }
                flagged += 1
            }
            // The fast readers skip the chain hash: they must refuse or read, never trap.
            if (try? JournalReader(directory: dir.path).read()) != nil { readByReader += 1 }
            // Every other round, opening checks the sealed segments first.
            if let j = try? Journal.open(directory: dir.path, options: round % 2 == 0 ? options : checking) {
                opened += 1
                if let all = try? j.readAll(from: 0, limit: 10_000) {
                    readByJournal += 1
                    // Opening that checked the chain hash first hands out the original log or nothing.
                    if round % 2 == 1 { #expect(all == log, "round \(round): a checked open read a changed frame at \(frame) as other events") }
                }
                _ = try? j.readStream("s")
                _ = try? j.readStream("z")
                j.close()
            }
        }
        let tally = "\(flagged) flagged, \(clean) clean; the reader read \(readByReader), \(opened) opened, \(readByJournal) read all"
        #expect(flagged + clean == rounds, "\(tally)")
        #expect(flagged > rounds / 2, "most changes are caught by the chain hash: \(tally)")
    }
}
