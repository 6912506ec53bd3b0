import Foundation
import Testing
@testable import Journal

/// After a bad frame, recovery looks for a sound frame further on (FORMAT.md, section 5). Every
/// `RGFR` it meets is a candidate whose header says how many bytes to check, so a file made of
/// headers could make that search read the file again for every header. Its work must stay
/// linear in the file, whatever the file holds.
@Suite struct SoundFrameSearchTests {
    let dir = TemporaryDirectory("search")

    enum Tail: String, CaseIterable {
        /// Each header is sound but for its CRC and claims every byte after it: checking one reads
        /// and checksums the rest of the file.
        case claimingTheRestOfTheFile
        /// Each header has a codec that does not exist: refused from its first 16 bytes.
        case withAnUnknownCodec
    }

    /// A segment of 10 events, then `count` 64-byte fake frame headers up to the end of the file.
    private func segment(withTail tail: Tail, count: Int) throws -> (path: String, name: String, tailStart: Int, size: Int) {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        try fill(j, count: 10)
        j.close()
        let name = dir.segmentFiles()[0]
        let path = dir.file(name)
        let tailStart = try endOfFrames(path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))[0..<tailStart].map { $0 }
        let size = tailStart + 64 * count
        for k in 0..<count {
            let rest = UInt32(size - (tailStart + 64 * k) - 64)
            var header = FrameHeader(storedLength: rest, payloadLength: rest, codec: .none, firstPosition: 10, eventCount: 1, chainHash: .zero)
                .encodedWithoutChecksum()
            if tail == .withAnUnknownCodec { header[12] = 7 }
            bytes += header + [0, 0, 0, 0]
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, name, tailStart, size)
    }

    @Test(arguments: Tail.allCases)
    func theSearchAfterATailOfFakeFrameHeadersReadsAndChecksALinearNumberOfBytes(tail: Tail) throws {
        let s = try segment(withTail: tail, count: 4_096)
        let file = try FileDescriptor.open(s.path, flags: O_RDONLY)
        // Small chunks, as in a segment many times larger than the read-ahead.
        let cursor = FrameCursor(file: file, from: UInt64(s.tailStart), limit: UInt64(s.size),
                                 maximumPayload: JournalFormat.maximumPayloadBytes, chunkSize: 4_096)
        guard case .invalid(let offset, _, _) = try cursor.next() else {
            Issue.record("the first fake header was taken for a frame")
            return
        }
        #expect(offset == UInt64(s.tailStart))
        switch tail {
        case .claimingTheRestOfTheFile:
            // Checking them all would take 4,096 × 128 KiB on average: the search gives up, and
            // says so, rather than call the tail torn.
            #expect {
                try cursor.findSoundFrame(after: offset, position: 10)
            } throws: { error in
                guard case JournalError.corrupt(let damage) = error else { return false }
                return damage.file == s.name && damage.offset == UInt64(s.tailStart) && damage.position == 10 && damage.kind == .midSegmentGarbage
                    && damage.detail.contains("gave up")
            }
        case .withAnUnknownCodec:
            #expect(try cursor.findSoundFrame(after: offset) == nil)
        }
        let bound = UInt64(12 * s.size)
        #expect(cursor.examinedBytes <= bound, "checked \(cursor.examinedBytes) bytes of a \(s.size)-byte file")
        #expect(cursor.bytesRead <= bound, "read \(cursor.bytesRead) bytes of a \(s.size)-byte file")
    }

    /// What a search that gave up means for each reader: damage, located, and nothing truncated.
    @Test func aSearchThatGivesUpIsDamageForTheWriterTheReaderAndTheVerifierAndTruncatesNothing() throws {
        let s = try segment(withTail: .claimingTheRestOfTheFile, count: 1_024)
        func isTheTail(_ error: any Error) -> Bool {
            guard case JournalError.corrupt(let damage) = error else { return false }
            return damage.file == s.name && damage.offset == UInt64(s.tailStart) && damage.kind == .midSegmentGarbage
        }
        #expect { try Journal.open(directory: dir.path, options: testOptions()) } throws: { isTheTail($0) }
        #expect(try Journal.fileSize(s.path) == UInt64(s.size), "the tail may hide a sound frame: it must not be truncated")
        #expect { try JournalReader(directory: dir.path).read() } throws: { isTheTail($0) }
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.count == 1)
        #expect(report.findings.first.map { $0.file == s.name && $0.offset == UInt64(s.tailStart) && $0.position == 10 && $0.detail.contains("gave up") } == true,
                "\(report.findings)")
        #expect(report.eventCount == 10)
    }
}
