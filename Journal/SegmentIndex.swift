import Foundation

/// What the index of one segment is built from: known to the writer at seal time, or rebuilt by
/// scanning the segment.
struct SegmentIndexContents {
    var firstPosition: UInt64
    var segmentLength: UInt64
    var chainHash: Digest32
    var lastRecordedAt: Int64
    var merkle: MerkleFrontier
    /// CRC32C of the whole segment file, so opening can check a sealed segment at disk speed.
    var segmentChecksum: UInt32 = 0
    var framePositions: [UInt64] = []
    var frameOffsets: [UInt64] = []
    var eventIDs: [UUID] = []
    /// stream → (first version in this segment, relative positions)
    var streams: [String: (firstVersion: UInt64, positions: [UInt32])] = [:]

    mutating func addFrame(firstPosition: UInt64, offset: UInt64) {
        framePositions.append(firstPosition)
        frameOffsets.append(offset)
    }

    mutating func addEvent(position: UInt64, stream: String, version: UInt64, id: UUID) {
        let relative = UInt32(position - firstPosition)
        eventIDs.append(id)
        if streams[stream] == nil {
            streams[stream] = (version, [relative])
        } else {
            streams[stream]!.positions.append(relative)
        }
    }
}

/// The immutable index file written beside each sealed segment (FORMAT.md, "Index files").
///
/// It is memory-mapped, so a journal of any size opens without reading its indexes, and costs
/// no heap per event: lookups hash the key, jump through a fan-out table to a small bucket and
/// binary-search it.
final class SegmentIndex: @unchecked Sendable {
    static let headerSize = 128
    static let frameEntrySize = 16
    static let streamEntrySize = 32

    let file: MappedFile
    let firstPosition: UInt64
    let eventCount: UInt64
    let segmentLength: UInt64
    let frameCount: Int
    let streamCount: Int
    let chainHash: Digest32
    let lastRecordedAt: Int64
    let merkle: MerkleFrontier
    let segmentChecksum: UInt32
    let idBits: Int
    let streamBits: Int
    private let framesAt: Int
    private let idFanoutAt: Int
    private let idHashesAt: Int
    private let idPositionsAt: Int
    private let streamFanoutAt: Int
    private let streamsAt: Int
    private let streamPositionsAt: Int
    private let namesAt: Int

    var endPosition: UInt64 { firstPosition + eventCount }

    private static func align8(_ n: Int) -> Int { (n + 7) & ~7 }

    static func fanoutBits(for count: Int) -> Int {
        guard count > 16 else { return 0 }
        let log2 = Int.bitWidth - count.leadingZeroBitCount - 1
        return min(16, max(0, log2 - 3))
    }

    /// Section offsets follow from the counts alone, so FORMAT.md can give them as formulas.
    private struct Layout {
        var frames, merkle, idFanout, idHashes, idPositions, streamFanout, streams, streamPositions, names, end: Int
        init(frameCount: Int, merkleCount: Int, eventCount: Int, streamCount: Int, idBits: Int, streamBits: Int, namesLength: Int) {
            frames = SegmentIndex.headerSize
            merkle = frames + frameCount * SegmentIndex.frameEntrySize
            idFanout = merkle + merkleCount * 32
            idHashes = SegmentIndex.align8(idFanout + ((1 << idBits) + 1) * 4)
            idPositions = idHashes + eventCount * 8
            streamFanout = SegmentIndex.align8(idPositions + eventCount * 4)
            streams = SegmentIndex.align8(streamFanout + ((1 << streamBits) + 1) * 4)
            streamPositions = streams + streamCount * SegmentIndex.streamEntrySize
            names = streamPositions + eventCount * 4
            end = names + namesLength
        }
    }

    /// Serialises an index; the result is written to a temporary file and renamed into place.
    static func encode(_ c: SegmentIndexContents) -> [UInt8] {
        let eventCount = c.eventIDs.count
        let idBits = fanoutBits(for: eventCount)
        let streamBits = fanoutBits(for: c.streams.count)
        let ids = c.eventIDs.enumerated().map { (hash: IndexHash.hash($0.element.bytes), position: UInt32($0.offset)) }
            .sorted { ($0.hash, $0.position) < ($1.hash, $1.position) }
        var names = ByteWriter()
        let streams = c.streams.map { (name: $0.key, hash: IndexHash.hash($0.key), run: $0.value) }
            .sorted { ($0.hash, $0.name) < ($1.hash, $1.name) }
        let layout = Layout(frameCount: c.framePositions.count, merkleCount: c.merkle.subtrees.count, eventCount: eventCount,
                            streamCount: streams.count, idBits: idBits, streamBits: streamBits,
                            namesLength: streams.reduce(0) { $0 + $1.name.utf8.count })
        var w = ByteWriter(capacity: layout.end)
        w.writeBytes(JournalFormat.indexMagic)
        w.writeInteger(UInt16(1))
        w.writeInteger(UInt8(idBits))
        w.writeInteger(UInt8(streamBits))
        w.writeInteger(UInt32(0))
        w.writeInteger(c.firstPosition)
        w.writeInteger(UInt64(eventCount))
        w.writeInteger(c.segmentLength)
        w.writeInteger(UInt64(c.framePositions.count))
        w.writeInteger(UInt64(streams.count))
        w.writeBytes(c.chainHash.bytes)
        w.writeInteger(c.lastRecordedAt)
        w.writeInteger(UInt32(c.merkle.subtrees.count))
        w.writeInteger(UInt32(layout.end - layout.names))
        w.writeInteger(c.segmentChecksum)
        w.writeZeros(124 - w.count)
        w.writeInteger(UInt32(0))  // CRC, filled below
        for i in c.framePositions.indices {
            w.writeInteger(c.framePositions[i])
            w.writeInteger(c.frameOffsets[i])
        }
        for s in c.merkle.subtrees { w.writeBytes(s.bytes) }
        writeFanout(ids.map(\.hash), bits: idBits, to: &w)
        w.writeZeros(layout.idHashes - w.count)
        for e in ids { w.writeInteger(e.hash) }
        for e in ids { w.writeInteger(e.position) }
        w.writeZeros(layout.streamFanout - w.count)
        writeFanout(streams.map(\.hash), bits: streamBits, to: &w)
        w.writeZeros(layout.streams - w.count)
        var positionsStart = 0
        var nameOffset = 0
        for s in streams {
            w.writeInteger(s.hash)
            w.writeInteger(s.run.firstVersion)
            w.writeInteger(UInt32(nameOffset))
            w.writeInteger(UInt32(s.name.utf8.count))
            w.writeInteger(UInt32(positionsStart))
            w.writeInteger(UInt32(s.run.positions.count))
            positionsStart += s.run.positions.count
            nameOffset += s.name.utf8.count
        }
        for s in streams { for p in s.run.positions { w.writeInteger(p) } }
        for s in streams { names.writeBytes(s.name.utf8) }
        w.writeBytes(names.bytes)
        precondition(w.count == layout.end)
        var crc = CRC32C.checksum(Array(w.bytes[0..<124]))
        crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[128...]), extending: crc) }
        w.setInteger(crc, at: 124)
        return w.bytes
    }

    /// fanout[b] = number of entries whose hash's top `bits` bits are < b; 2^bits + 1 entries.
    private static func writeFanout(_ sortedHashes: [UInt64], bits: Int, to w: inout ByteWriter) {
        let buckets = 1 << bits
        var i = 0
        for b in 0...buckets {
            while i < sortedHashes.count, bucket(of: sortedHashes[i], bits: bits) < b { i += 1 }
            w.writeInteger(UInt32(i))
        }
    }

    @inline(__always) static func bucket(of hash: UInt64, bits: Int) -> Int {
        bits == 0 ? 0 : Int(hash >> UInt64(64 - bits))
    }

    /// Maps an index file and checks its structure. `verifyingChecksum` also reads every page to
    /// check the CRC32C; without it, opening costs a few pages per segment, and the caller must
    /// call `hasSoundChecksum()` soon (the background sealed-segment check does).
    init(path: String, name: String, verifyingChecksum: Bool = true) throws {
        file = try MappedFile(path: path)
        let b = file.bytes
        func bad(_ detail: String) -> JournalError {
            .corrupt(JournalDamage(kind: .badIndex, file: name, offset: 0, position: nil, detail: detail))
        }
        guard b.count >= Self.headerSize, Array(b[0..<8]) == JournalFormat.indexMagic else { throw bad("not an index file") }
        guard b.getInteger(at: 8) as UInt16 == 1 else { throw bad("unknown index version") }
        if verifyingChecksum, !Self.checksumMatches(b) { throw bad("index checksum mismatch") }
        idBits = Int(b[10])
        streamBits = Int(b[11])
        firstPosition = b.getInteger(at: 16)
        eventCount = b.getInteger(at: 24)
        segmentLength = b.getInteger(at: 32)
        frameCount = Int(b.getInteger(at: 40) as UInt64)
        streamCount = Int(b.getInteger(at: 48) as UInt64)
        chainHash = Digest32(bytes: Array(b[56..<88]))
        lastRecordedAt = b.getInteger(at: 88)
        let merkleCount = Int(b.getInteger(at: 96) as UInt32)
        let namesLength = Int(b.getInteger(at: 100) as UInt32)
        segmentChecksum = b.getInteger(at: 104)
        guard idBits <= 16, streamBits <= 16, eventCount < UInt64(UInt32.max), frameCount < Int(UInt32.max), merkleCount <= 64 else { throw bad("index header out of range") }
        let layout = Layout(frameCount: frameCount, merkleCount: merkleCount, eventCount: Int(eventCount), streamCount: streamCount,
                            idBits: idBits, streamBits: streamBits, namesLength: namesLength)
        guard layout.end == b.count else { throw bad("index is \(b.count) bytes but its header describes \(layout.end)") }
        framesAt = layout.frames
        idFanoutAt = layout.idFanout
        idHashesAt = layout.idHashes
        idPositionsAt = layout.idPositions
        streamFanoutAt = layout.streamFanout
        streamsAt = layout.streams
        streamPositionsAt = layout.streamPositions
        namesAt = layout.names
        var subtrees: [Digest32] = []
        for k in 0..<merkleCount {
            let at = layout.merkle + k * 32
            subtrees.append(Digest32(bytes: Array(b[at..<(at + 32)])))
        }
        guard let frontier = MerkleFrontier(leafCount: firstPosition + eventCount, subtrees: subtrees) else { throw bad("Merkle frontier does not match the event count") }
        merkle = frontier
    }

    /// Whether the CRC32C over the whole file still matches: reads every page.
    func hasSoundChecksum() -> Bool { Self.checksumMatches(file.bytes) }

    private static func checksumMatches(_ b: UnsafeRawBufferPointer) -> Bool {
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<124]))
        crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[128...]), extending: crc)
        return crc == b.getInteger(at: 124) as UInt32
    }

    // MARK: Lookups

    /// The offset of the frame holding `position`, and that frame's first position.
    func frame(containing position: UInt64) -> (firstPosition: UInt64, offset: UInt64)? {
        guard position >= firstPosition, position < endPosition, frameCount > 0 else { return nil }
        let b = file.bytes
        var lo = 0, hi = frameCount - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            let p: UInt64 = b.getInteger(at: framesAt + mid * Self.frameEntrySize)
            if p <= position { lo = mid } else { hi = mid - 1 }
        }
        return (b.getInteger(at: framesAt + lo * Self.frameEntrySize), b.getInteger(at: framesAt + lo * Self.frameEntrySize + 8))
    }

    func frameEntry(_ i: Int) -> (firstPosition: UInt64, offset: UInt64) {
        let b = file.bytes
        return (b.getInteger(at: framesAt + i * Self.frameEntrySize), b.getInteger(at: framesAt + i * Self.frameEntrySize + 8))
    }

    /// Positions of events whose id hashes like `id`'s; the caller confirms by reading the event.
    func candidatePositions(forEventID id: UUID) -> [UInt64] {
        let hash = IndexHash.hash(id)
        let b = file.bytes
        let (lo, hi) = range(of: hash, fanoutAt: idFanoutAt, bits: idBits, count: Int(eventCount)) { b.getInteger(at: idHashesAt + $0 * 8) }
        return (lo..<hi).map { firstPosition + UInt64(b.getInteger(at: idPositionsAt + $0 * 4) as UInt32) }
    }

    /// Whether the id table sends `id` to `position`: `candidatePositions(forEventID:)` without
    /// building an array, for the index check's million lookups per segment.
    func eventID(_ id: UUID, isAt position: UInt64) -> Bool { eventID(hashed: IndexHash.hash(id), isAt: position) }

    /// The same, for an id already hashed with `IndexHash`.
    func eventID(hashed hash: UInt64, isAt position: UInt64) -> Bool {
        guard position >= firstPosition, position - firstPosition < UInt64(UInt32.max) else { return false }
        let relative = UInt32(position - firstPosition)
        let b = file.bytes
        let (lo, hi) = range(of: hash, fanoutAt: idFanoutAt, bits: idBits, count: Int(eventCount)) { b.getInteger(at: idHashesAt + $0 * 8) }
        for i in lo..<hi where b.getInteger(at: idPositionsAt + i * 4) as UInt32 == relative { return true }
        return false
    }

    /// Where a stream's positions lie in the index: `StreamRun` as plain numbers, with no
    /// reference to the index to retain and release at every use.
    struct RunLocation {
        var firstVersion: UInt64
        var count: Int
        var positionsStart: Int
    }

    /// The run of the stream whose name is `name` (UTF-8), looked up without making a `String`.
    func runLocation(ofStreamNamed name: UnsafeRawBufferPointer) -> RunLocation? {
        let b = file.bytes
        let (lo, hi) = range(of: IndexHash.hash(name), fanoutAt: streamFanoutAt, bits: streamBits, count: streamCount) { b.getInteger(at: streamsAt + $0 * Self.streamEntrySize) }
        for i in lo..<hi {
            let e = streamsAt + i * Self.streamEntrySize
            let nameOffset = Int(b.getInteger(at: e + 16) as UInt32)
            let nameLength = Int(b.getInteger(at: e + 20) as UInt32)
            guard nameLength == name.count, namesAt + nameOffset + nameLength <= b.count else { continue }
            if nameLength == 0 || memcmp(b.baseAddress! + namesAt + nameOffset, name.baseAddress!, nameLength) == 0 {
                return RunLocation(firstVersion: b.getInteger(at: e + 8), count: Int(b.getInteger(at: e + 28) as UInt32),
                                   positionsStart: Int(b.getInteger(at: e + 24) as UInt32))
            }
        }
        return nil
    }

    /// The position of the `i`-th event of a run; nil when the run points outside the file.
    func position(in run: RunLocation, at i: Int) -> UInt64? {
        let at = streamPositionsAt + (run.positionsStart + i) * 4
        guard at >= streamPositionsAt, at + 4 <= namesAt else { return nil }
        return firstPosition + UInt64(file.bytes.getInteger(at: at) as UInt32)
    }

    struct StreamRun {
        var firstVersion: UInt64
        var count: Int
        private let index: SegmentIndex
        private let positionsStart: Int

        fileprivate init(index: SegmentIndex, firstVersion: UInt64, count: Int, positionsStart: Int) {
            self.index = index
            self.firstVersion = firstVersion
            self.count = count
            self.positionsStart = positionsStart
        }

        var lastVersion: UInt64 { firstVersion + UInt64(count) - 1 }

        func position(at i: Int) -> UInt64 {
            index.firstPosition + UInt64(index.file.bytes.getInteger(at: index.streamPositionsAt + (positionsStart + i) * 4) as UInt32)
        }
    }

    func run(ofStream stream: String) -> StreamRun? {
        let hash = IndexHash.hash(stream)
        let b = file.bytes
        let (lo, hi) = range(of: hash, fanoutAt: streamFanoutAt, bits: streamBits, count: streamCount) { b.getInteger(at: streamsAt + $0 * Self.streamEntrySize) }
        let wanted = Array(stream.utf8)
        for i in lo..<hi {
            let e = streamsAt + i * Self.streamEntrySize
            let nameOffset = Int(b.getInteger(at: e + 16) as UInt32)
            let nameLength = Int(b.getInteger(at: e + 20) as UInt32)
            guard nameLength == wanted.count, namesAt + nameOffset + nameLength <= b.count else { continue }
            if b[(namesAt + nameOffset)..<(namesAt + nameOffset + nameLength)].elementsEqual(wanted) {
                return StreamRun(index: self, firstVersion: b.getInteger(at: e + 8), count: Int(b.getInteger(at: e + 28) as UInt32),
                                 positionsStart: Int(b.getInteger(at: e + 24) as UInt32))
            }
        }
        return nil
    }

    /// Every stream in this segment with its run (used by verification).
    func allStreams() -> [(name: String, firstVersion: UInt64, count: Int)] {
        let b = file.bytes
        return (0..<streamCount).map { i in
            let e = streamsAt + i * Self.streamEntrySize
            let nameOffset = Int(b.getInteger(at: e + 16) as UInt32)
            let nameLength = Int(b.getInteger(at: e + 20) as UInt32)
            let name = String(decoding: b[(namesAt + nameOffset)..<(namesAt + nameOffset + nameLength)], as: UTF8.self)
            return (name, b.getInteger(at: e + 8), Int(b.getInteger(at: e + 28) as UInt32))
        }
    }

    /// The half-open range of entries with exactly `hash`, by fan-out then binary search.
    private func range(of hash: UInt64, fanoutAt: Int, bits: Int, count: Int, hashAt: (Int) -> UInt64) -> (Int, Int) {
        let b = file.bytes
        let bucket = Self.bucket(of: hash, bits: bits)
        var lo = Int(b.getInteger(at: fanoutAt + bucket * 4) as UInt32)
        var hi = Int(b.getInteger(at: fanoutAt + (bucket + 1) * 4) as UInt32)
        guard lo <= hi, hi <= count else { return (0, 0) }
        while lo < hi {
            let mid = (lo + hi) / 2
            if hashAt(mid) < hash { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < count, hashAt(end) == hash { end += 1 }
        return (lo, end)
    }
}
