import Crypto
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

    /// A segment's index as the writer builds it at seal: 20,000 ids (12 fan-out bits, about five
    /// per bucket) and 3,000 streams with runs of every length, all from a fixed seed.
    /// `openable`: frames inside a segment long enough for them (the pinned bytes below were
    /// taken with offsets from 64 in a shorter segment, which opening an index now refuses).
    private static func sealContents(openable: Bool = false) -> SegmentIndexContents {
        var state: UInt64 = 0x5EA1
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var merkle = MerkleFrontier()
        for k in 0..<21_000 { merkle.append(leaf: Digest32(bytes: (0..<32).map { UInt8(truncatingIfNeeded: k >> ($0 % 3 * 8)) })) }
        var c = SegmentIndexContents(firstPosition: 1_000, segmentLength: openable ? 128 + 20_000 * 90 : 123_456, chainHash: Digest32.zero, lastRecordedAt: 42, merkle: merkle)
        for k in 0..<20_000 {
            if k % 100 == 0 { c.addFrame(firstPosition: 1_000 + UInt64(k), offset: (openable ? 128 : 64) + UInt64(k) * 90) }
            let id = UUID(uuid: withUnsafeBytes(of: (next(), next())) { b in
                (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]) })
            c.addEvent(position: 1_000 + UInt64(k), stream: "stream-\(next() % 3_000)", version: UInt64(k), id: id)
        }
        return c
    }

    @Test func theIndexBytesOfASealAreAFunctionOfTheSegmentAlone() {
        // Pinned: the same contents give these very bytes, whatever the order the writer's
        // tables hold them in (the hash was taken from the first implementation of the format).
        let bytes = SegmentIndex.encode(Self.sealContents())
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        #expect(digest == "9fcab6d4f638a69ec24a93c81705b5baa219b5d609eb43b84e00b414f29c5403")
        #expect(bytes == SegmentIndex.encode(Self.sealContents()))
    }

    @Test func anIndexLooksUpEveryIdAndEveryRunItWasBuiltFrom() throws {
        let contents = Self.sealContents(openable: true)
        let path = dir.path + "/lookup.idx"
        _ = FileManager.default.createFile(atPath: path, contents: Data(SegmentIndex.encode(contents)))
        let index = try SegmentIndex(path: path, name: "lookup.idx")
        for (k, id) in contents.eventIDs.enumerated() {
            #expect(index.candidatePositions(forEventID: id).contains(contents.firstPosition + UInt64(k)))
        }
        #expect(contents.streams.count > 2_900)
        for run in contents.streams.runs {
            let found = index.run(ofStream: run.name) { _ in true }
            let positions = found.map { f in (0..<f.count).map { f.position(at: $0) } }
            #expect(found?.firstVersion == run.firstVersion && positions == run.positions, "\(run.name)")
        }
    }

    @Test func aStreamFiledUnderAnotherStreamsHashIsNotTakenForIt() throws {
        try writeSealedJournal(victimEvents: 3)
        // An index, sound as a file, in which the victim's run sits under the impostor's hash:
        // what a stream id crafted to collide with the victim's would meet.
        var contents = try firstSegmentContents()
        var renamed = StreamRuns()
        for run in contents.streams.runs {
            for (k, p) in run.positions.enumerated() {
                renamed.add(position: p, version: run.firstVersion + UInt64(k), stream: run.name == "victim" ? "impostor" : run.name)
            }
        }
        contents.streams = renamed
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
