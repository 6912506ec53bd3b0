import Foundation
import Testing
@testable import Journal

/// The index keeps hashes, not stream names or whole ids (FORMAT.md, section 6): it stays small,
/// and every hit is confirmed against the segment before it answers a lookup.
@Suite struct IndexFormatTests {
    let dir = TemporaryDirectory()

    private var indexDirectory: String { dir.path + "/index" }

    private func writeSealedJournal(victimEvents: Int = 0) throws {
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        for _ in 0..<victimEvents { try j.append([event("victim")]) }
        try fill(j, count: 60)
        j.close()
    }

    /// The first segment's index contents, scanned from the segment as a rebuild does.
    private func firstSegmentContents() throws -> SegmentIndexContents {
        let name = dir.segmentFiles()[0]
        let file = try FileDescriptor.open(dir.file(name), flags: O_RDONLY)
        let header = try Journal.readHeader(file, name: name)
        return try Journal.indexContents(scanning: file, name: name, header: header, frontier: MerkleFrontier(), options: testOptions())
    }

    private func header(_ bytes: [UInt8]) -> (idBits: Int, streamBits: Int, events: Int, frames: Int, streams: Int, merkle: Int) {
        (Int(bytes[10]), Int(bytes[11]), Int(bytes.getInteger(at: 24, as: UInt64.self)), Int(bytes.getInteger(at: 40, as: UInt64.self)),
         Int(bytes.getInteger(at: 48, as: UInt64.self)), Int(bytes.getInteger(at: 96, as: UInt32.self)))
    }

    @Test func everyIndexFileHasExactlyTheSizeThatFormatMdGivesForItsCounts() throws {
        try writeSealedJournal()
        let names = try FileManager.default.contentsOfDirectory(atPath: indexDirectory).sorted()
        #expect(names.count >= 2)
        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        defer { j.close() }
        let firsts = dir.segmentFiles().compactMap { UInt64($0.dropLast(4)) }
        for (k, name) in names.enumerated() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: indexDirectory + "/" + name)))
            let h = header(bytes)
            func align8(_ n: Int) -> Int { (n + 7) & ~7 }
            let idFanout = 128 + 16 * h.frames + 32 * h.merkle
            let idHashes = align8(idFanout + ((1 << h.idBits) + 1) * 4)
            let streamFanout = align8(idHashes + 8 * h.events)
            let streams = align8(streamFanout + ((1 << h.streamBits) + 1) * 4)
            #expect(bytes.count == streams + 24 * h.streams + 4 * h.events)
            #expect(bytes.getInteger(at: 8, as: UInt16.self) == 2)
            // The counts are the segment's own.
            let events = try j.readAll(from: firsts[k], limit: Int(firsts[k + 1] - firsts[k]))
            #expect(h.events == events.count)
            #expect(h.streams == Set(events.map(\.stream)).count)
        }
    }

    @Test func aStreamFiledUnderAnotherStreamsHashIsNotTakenForIt() throws {
        try writeSealedJournal(victimEvents: 3)
        // An index, sound as a file, in which the victim's run sits under the impostor's hash:
        // what a stream id crafted to collide with the victim's would meet.
        var contents = try firstSegmentContents()
        contents.streams["impostor"] = contents.streams.removeValue(forKey: "victim")
        try Data(SegmentIndex.encode(contents)).write(to: URL(fileURLWithPath: indexDirectory + "/" + JournalFormat.indexName(firstPosition: 0)))

        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        defer { j.close() }
        #expect(j.recovery.rebuiltIndexes.isEmpty)
        #expect(j.lastVersion(of: "impostor") == nil)
        #expect(try j.readStream("impostor").isEmpty)
        let r = try j.append([event("impostor")], expecting: ["impostor": .noStream])
        #expect(r.versions["impostor"] == 0)
        #expect(try j.readStream("impostor").map(\.position) == [r.firstPosition])
        // The verifier compares the index with the segment and names the stream it lost.
        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.findings.contains { $0.kind == .badIndex && $0.detail.contains("'victim'") })
    }

    @Test func anIndexOfTheFirstFormatVersionIsNotedByVerifyAndRebuiltOnOpen() throws {
        try writeSealedJournal()
        let name = try FileManager.default.contentsOfDirectory(atPath: indexDirectory).sorted()[0]
        let path = indexDirectory + "/" + name
        // Declare version 1 and keep the checksum right, as a file from an older build would be.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[8] = 1
        var crc = CRC32C.checksum(Array(bytes[0..<124]))
        crc = CRC32C.checksum(Array(bytes[128...]), extending: crc)
        withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { bytes[124 + i] = b } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let report = try JournalVerifier.verify(directory: dir.path)
        #expect(report.isClean)
        #expect(report.notes.contains { $0.contains("index version 1") })

        let first = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        #expect(first.recovery.rebuiltIndexes == [dir.segmentFiles()[0]])
        let before = try first.readAll(limit: 1000)
        first.close()
        #expect(SegmentIndex.version(ofFileAt: path) == 2)

        let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 2_000))
        defer { j.close() }
        #expect(j.recovery.rebuiltIndexes.isEmpty)
        #expect(before.count == 60)
        #expect(try j.readAll(limit: 1000).map(\.id) == before.map(\.id))
        for e in before { #expect(try j.event(id: e.id)?.position == e.position) }
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
    }
}
