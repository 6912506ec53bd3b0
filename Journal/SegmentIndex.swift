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
    /// Each stream's first version in this segment and its (absolute) positions. At a seal this
    /// is the open segment's own table, shared rather than converted: appends wait for the seal.
    var streams = StreamRuns()

    mutating func addFrame(firstPosition: UInt64, offset: UInt64) {
        framePositions.append(firstPosition)
        frameOffsets.append(offset)
    }

    mutating func addEvent(position: UInt64, stream: String, version: UInt64, id: UUID) {
        eventIDs.append(id)
        streams.add(position: position, version: version, stream: stream)
    }

    /// The same for an event read back from the segment, without making a `String` of its stream.
    mutating func addEvent(_ view: EventView) {
        eventIDs.append(view.id)
        streams.add(position: view.position, version: view.version, stream: view.streamBytes)
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
    static let streamEntrySize = 24
    /// Version 2 dropped stream names and halved id hashes (FORMAT.md, section 6); an index of
    /// another version is derived data like a damaged one, so the writer rebuilds it.
    static let version: UInt16 = 2

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

    var endPosition: UInt64 { firstPosition + eventCount }

    private static func align8(_ n: Int) -> Int { (n + 7) & ~7 }

    static func fanoutBits(for count: Int) -> Int {
        guard count > 16 else { return 0 }
        let log2 = Int.bitWidth - count.leadingZeroBitCount - 1
        return min(16, max(0, log2 - 3))
    }

    /// Section offsets follow from the counts alone, so FORMAT.md can give them as formulas.
    private struct Layout {
        var frames, merkle, idFanout, idHashes, idPositions, streamFanout, streams, streamPositions, end: Int
        init(frameCount: Int, merkleCount: Int, eventCount: Int, streamCount: Int, idBits: Int, streamBits: Int) {
            frames = SegmentIndex.headerSize
            merkle = frames + frameCount * SegmentIndex.frameEntrySize
            idFanout = merkle + merkleCount * 32
            idHashes = SegmentIndex.align8(idFanout + ((1 << idBits) + 1) * 4)
            idPositions = idHashes + eventCount * 4
            streamFanout = SegmentIndex.align8(idPositions + eventCount * 4)
            streams = SegmentIndex.align8(streamFanout + ((1 << streamBits) + 1) * 4)
            streamPositions = streams + streamCount * SegmentIndex.streamEntrySize
            end = streamPositions + eventCount * 4
        }
    }

    /// Serialises an index; the result is written to a temporary file and renamed into place.
    static func encode(_ c: SegmentIndexContents) -> [UInt8] {
        let eventCount = c.eventIDs.count
        let idBits = fanoutBits(for: eventCount)
        let streamBits = fanoutBits(for: c.streams.count)
        // An id entry keeps only the low 32 bits of its hash: the fan-out bucket already holds the
        // top bits, and every candidate is confirmed by reading its event anyway.
        // A seal builds this while appends wait, so nothing here sorts a whole segment with
        // comparisons: ids go to their fan-out bucket by counting (a bucket holds a handful), and
        // streams are sorted as plain keys, their runs' arrays left in place.
        let ids = sortedIDKeys(c.eventIDs, bits: idBits)
        let runs = c.streams.runs
        var streams: [StreamKey] = []
        streams.reserveCapacity(runs.count)
        for (k, run) in runs.enumerated() {
            // Runs whose hashes collide keep the order of their first positions, so the file is
            // a function of the segment alone.
            streams.append(StreamKey(hash: IndexHash.hash(run.name), first: UInt32(run.positions[0] - c.firstPosition), run: Int32(k)))
        }
        streams.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.first < $1.first }
        let layout = Layout(frameCount: c.framePositions.count, merkleCount: c.merkle.subtrees.count, eventCount: eventCount,
                            streamCount: streams.count, idBits: idBits, streamBits: streamBits)
        var w = ByteWriter(capacity: layout.end)
        w.writeBytes(JournalFormat.indexMagic)
        w.writeInteger(version)
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
        w.writeInteger(UInt32(0))
        w.writeInteger(c.segmentChecksum)
        w.writeZeros(124 - w.count)
        w.writeInteger(UInt32(0))  // CRC, filled below
        for i in c.framePositions.indices {
            w.writeInteger(c.framePositions[i])
            w.writeInteger(c.frameOffsets[i])
        }
        for s in c.merkle.subtrees { w.writeBytes(s.bytes) }
        writeFanout(ids.map(\.bucket), bits: idBits, to: &w)
        w.writeZeros(layout.streamFanout - w.count)
        writeFanout(streams.map { bucket(of: $0.hash, bits: streamBits) }, bits: streamBits, to: &w)
        // The large sections (8 bytes per id, 24 per stream, 4 per position) are stored in place
        // into zeros, not appended integer by integer: appends wait for the seal.
        w.writeZeros(layout.end - w.count)
        w.bytes.withUnsafeMutableBytes { out in
            func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
                out.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
            }
            for (k, e) in ids.enumerated() {
                store(e.low, at: layout.idHashes + 4 * k)
                store(e.position, at: layout.idPositions + 4 * k)
            }
            runs.withUnsafeBufferPointer { runs in
                var entry = layout.streams
                var position = layout.streamPositions
                for s in streams {
                    let run = runs[Int(s.run)]
                    store(s.hash, at: entry)
                    store(run.firstVersion, at: entry + 8)
                    store(UInt32((position - layout.streamPositions) / 4), at: entry + 16)
                    store(UInt32(run.positions.count), at: entry + 20)
                    entry += SegmentIndex.streamEntrySize
                    for p in run.positions {
                        store(UInt32(p - c.firstPosition), at: position)
                        position += 4
                    }
                }
            }
        }
        precondition(w.count == layout.end)
        var crc = CRC32C.checksum(Array(w.bytes[0..<124]))
        crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[128...]), extending: crc) }
        w.setInteger(crc, at: 124)
        return w.bytes
    }

    /// An id's place in the index: its fan-out bucket (the hash's top bits), then the low 32
    /// bits that the file stores.
    /// A stream's place in the index: its name's hash, then its first relative position.
    private struct StreamKey {
        var hash: UInt64
        var first: UInt32
        var run: Int32
    }

    /// The ids' keys in file order, (bucket, low 32 bits, position): placed by counting into
    /// their buckets in position order, then each bucket put in order of its low bits by
    /// insertion, which keeps equal keys in position order.
    private static func sortedIDKeys(_ eventIDs: [UUID], bits: Int) -> [IdKey] {
        let keys = eventIDs.enumerated().map { IdKey(hash: IndexHash.hash($0.element), bits: bits, position: UInt32($0.offset)) }
        var starts = [Int](repeating: 0, count: (1 << bits) + 1)
        for k in keys { starts[k.bucket + 1] += 1 }
        for b in 0..<(1 << bits) { starts[b + 1] += starts[b] }
        var next = starts
        var sorted = [IdKey](repeating: IdKey(key: 0, position: 0), count: keys.count)
        for k in keys {
            sorted[next[k.bucket]] = k
            next[k.bucket] += 1
        }
        for b in 0..<(1 << bits) where starts[b + 1] - starts[b] > 1 {
            for i in (starts[b] + 1)..<starts[b + 1] {
                let k = sorted[i]
                var j = i
                while j > starts[b], sorted[j - 1].low > k.low {
                    sorted[j] = sorted[j - 1]
                    j -= 1
                }
                sorted[j] = k
            }
        }
        return sorted
    }

    private struct IdKey {
        /// The bucket in the high word, the low 32 bits of the hash in the low word: one integer
        /// orders them as (bucket, low).
        var key: UInt64
        var position: UInt32
        init(hash: UInt64, bits: Int, position: UInt32) {
            key = UInt64(SegmentIndex.bucket(of: hash, bits: bits)) << 32 | UInt64(UInt32(truncatingIfNeeded: hash))
            self.position = position
        }
        init(key: UInt64, position: UInt32) {
            self.key = key
            self.position = position
        }
        var bucket: Int { Int(key >> 32) }
        var low: UInt32 { UInt32(truncatingIfNeeded: key) }
    }

    /// fanout[b] = number of entries whose bucket is < b; 2^bits + 1 entries.
    private static func writeFanout(_ sortedBuckets: [Int], bits: Int, to w: inout ByteWriter) {
        let buckets = 1 << bits
        var i = 0
        for b in 0...buckets {
            while i < sortedBuckets.count, sortedBuckets[i] < b { i += 1 }
            w.writeInteger(UInt32(i))
        }
    }

    @inline(__always) static func bucket(of hash: UInt64, bits: Int) -> Int {
        bits == 0 ? 0 : Int(hash >> UInt64(64 - bits))
    }

    /// How the checksum of an index is read when it is opened.
    enum ChecksumRead {
        /// Through the page cache (pread), not the mapping: a journal opening checks every index
        /// and must not make them all resident in its process.
        case pageCache
        /// Through the mapping, for a reader that goes on to read every page anyway (the
        /// verifier): reading them twice, once copied, cost the audit a few percent.
        case mapping
    }

    /// Maps an index file and checks its checksum and structure.
    init(path: String, name: String, readingChecksum how: ChecksumRead = .pageCache) throws {
        file = try MappedFile(path: path)
        let b = file.bytes
        func bad(_ detail: String) -> JournalError {
            .corrupt(JournalDamage(kind: .badIndex, file: name, offset: 0, position: nil, detail: detail))
        }
        guard b.count >= Self.headerSize, Array(b[0..<8]) == JournalFormat.indexMagic else { throw bad("not an index file") }
        let found: UInt16 = b.getInteger(at: 8)
        guard found == Self.version else { throw bad("index version \(found), this build reads version \(Self.version)") }
        switch how {
        case .pageCache:
            let reader = try FileDescriptor.open(path, flags: O_RDONLY)
            let crc = try reader.checksum(of: 128..<UInt64(b.count), extending: reader.checksum(of: 0..<124))
            guard crc == b.getInteger(at: 124) as UInt32 else { throw bad("index checksum mismatch") }
        case .mapping:
            guard Self.checksumMatches(b) else { throw bad("index checksum mismatch") }
        }
        idBits = Int(b[10])
        streamBits = Int(b[11])
        firstPosition = b.getInteger(at: 16)
        eventCount = b.getInteger(at: 24)
        segmentLength = b.getInteger(at: 32)
        // Counts are range-checked before any arithmetic: an index is a file on disk, hostile
        // until its checksum and its layout agree.
        let frames: UInt64 = b.getInteger(at: 40), streams: UInt64 = b.getInteger(at: 48)
        let merkleCount = Int(b.getInteger(at: 96) as UInt32)
        guard idBits <= 16, streamBits <= 16, eventCount < UInt64(UInt32.max), frames < UInt64(UInt32.max), streams <= eventCount,
              merkleCount <= 64, firstPosition <= UInt64.max - (1 << 32) else { throw bad("index header out of range") }
        frameCount = Int(frames)
        streamCount = Int(streams)
        chainHash = Digest32(bytes: Array(b[56..<88]))
        lastRecordedAt = b.getInteger(at: 88)
        segmentChecksum = b.getInteger(at: 104)
        let layout = Layout(frameCount: frameCount, merkleCount: merkleCount, eventCount: Int(eventCount), streamCount: streamCount,
                            idBits: idBits, streamBits: streamBits)
        guard layout.end == b.count else { throw bad("index is \(b.count) bytes but its header describes \(layout.end)") }
        framesAt = layout.frames
        idFanoutAt = layout.idFanout
        idHashesAt = layout.idHashes
        idPositionsAt = layout.idPositions
        streamFanoutAt = layout.streamFanout
        streamsAt = layout.streams
        streamPositionsAt = layout.streamPositions
        var subtrees: [Digest32] = []
        for k in 0..<merkleCount {
            let at = layout.merkle + k * 32
            subtrees.append(Digest32(bytes: Array(b[at..<(at + 32)])))
        }
        guard let frontier = MerkleFrontier(leafCount: firstPosition + eventCount, subtrees: subtrees) else { throw bad("Merkle frontier does not match the event count") }
        merkle = frontier
        // The frame table is what every read by position trusts: it must start at the segment's
        // first position, rise strictly within its events and point inside it in order (several
        // frames of a packed segment share their block's offset).
        guard (frameCount == 0) == (eventCount == 0) else { throw bad("index lists \(frameCount) frames for \(eventCount) events") }
        var previous: (position: UInt64, offset: UInt64)? = nil
        for k in 0..<frameCount {
            let position: UInt64 = b.getInteger(at: framesAt + k * 16), offset: UInt64 = b.getInteger(at: framesAt + k * 16 + 8)
            let sound = offset >= UInt64(JournalFormat.segmentHeaderSize) && offset < segmentLength
                && position >= firstPosition && position - firstPosition < eventCount
                && (previous.map { position > $0.position && offset >= $0.offset } ?? (position == firstPosition))
            guard sound else { throw bad("frame \(k) of the index (position \(position), byte \(offset)) is out of order or outside the segment") }
            previous = (position, offset)
        }
    }

    /// The version an index file declares, when it has an index header at all; lets the
    /// verifier tell an index from an older build (rebuilt on open) from a damaged one.
    static func version(ofFileAt path: String) -> UInt16? {
        // Not FileHandle: on a FIFO it would wait for a writer for ever.
        guard let file = try? FileDescriptor.open(path, flags: O_RDONLY) else { return nil }
        var head = [UInt8](repeating: 0, count: 10)
        guard let n = try? head.withUnsafeMutableBytes({ try file.read(into: $0, at: 0) }), n == head.count,
              Array(head[0..<8]) == JournalFormat.indexMagic else { return nil }
        return UInt16(head[8]) | UInt16(head[9]) << 8
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

    /// This index's bytes for the packed form of its segment: the same positions, ids and runs,
    /// each frame's offset now its block's, and the packed file's length and checksum. Nil when
    /// the counts of frames disagree.
    func repointed(segmentLength: UInt64, segmentChecksum: UInt32, frameOffsets: [UInt64]) -> [UInt8]? {
        guard frameOffsets.count == frameCount else { return nil }
        var bytes = [UInt8](file.bytes)
        bytes.withUnsafeMutableBytes { b in
            b.storeBytes(of: segmentLength.littleEndian, toByteOffset: 32, as: UInt64.self)
            b.storeBytes(of: segmentChecksum.littleEndian, toByteOffset: 104, as: UInt32.self)
            for (i, offset) in frameOffsets.enumerated() {
                b.storeBytes(of: offset.littleEndian, toByteOffset: framesAt + i * Self.frameEntrySize + 8, as: UInt64.self)
            }
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[128...]), extending: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<124])))
            b.storeBytes(of: crc.littleEndian, toByteOffset: 124, as: UInt32.self)
        }
        return bytes
    }

    func frameEntry(_ i: Int) -> (firstPosition: UInt64, offset: UInt64) {
        let b = file.bytes
        return (b.getInteger(at: framesAt + i * Self.frameEntrySize), b.getInteger(at: framesAt + i * Self.frameEntrySize + 8))
    }

    /// Positions of events whose id hashes like `id`'s; the caller confirms by reading the event.
    func candidatePositions(forEventID id: UUID) -> [UInt64] {
        let hash = IndexHash.hash(id)
        let b = file.bytes
        let low = UInt32(truncatingIfNeeded: hash)
        let (lo, hi) = range(of: low, bucket: Self.bucket(of: hash, bits: idBits), fanoutAt: idFanoutAt, count: Int(eventCount)) {
            b.getInteger(at: idHashesAt + $0 * 4) as UInt32
        }
        return (lo..<hi).map { firstPosition + UInt64(b.getInteger(at: idPositionsAt + $0 * 4) as UInt32) }
    }

    /// The low 32 bits of every event id's `IndexHash`, as the id table stores them (for an
    /// `EventIDFilter`).
    func forEachIDHash(_ body: (UInt64) -> Void) {
        let b = file.bytes
        for i in 0..<Int(eventCount) { body(UInt64(b.getInteger(at: idHashesAt + i * 4) as UInt32)) }
    }

    /// Whether the id table sends `id` to `position`: `candidatePositions(forEventID:)` without
    /// building an array, for the index check's million lookups per segment.
    func eventID(_ id: UUID, isAt position: UInt64) -> Bool { eventID(hashed: IndexHash.hash(id), isAt: position) }

    /// The same, for an id already hashed with `IndexHash`.
    func eventID(hashed hash: UInt64, isAt position: UInt64) -> Bool {
        guard position >= firstPosition, position - firstPosition < UInt64(UInt32.max) else { return false }
        let relative = UInt32(position - firstPosition)
        let b = file.bytes
        let (lo, hi) = range(of: UInt32(truncatingIfNeeded: hash), bucket: Self.bucket(of: hash, bits: idBits), fanoutAt: idFanoutAt, count: Int(eventCount)) {
            b.getInteger(at: idHashesAt + $0 * 4) as UInt32
        }
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

    /// The run of the stream whose index hash is `hash`, as plain numbers; like
    /// `run(ofStream:confirmedBy:)`, a run counts only when `isStream` accepts one of its
    /// positions, here its first (the verifier's way; the readers' confirms the last).
    func runLocation(ofStreamHashed hash: UInt64, confirmedBy isStream: (UInt64) -> Bool) -> RunLocation? {
        let b = file.bytes
        let (lo, hi) = range(of: hash, bucket: Self.bucket(of: hash, bits: streamBits), fanoutAt: streamFanoutAt, count: streamCount) {
            b.getInteger(at: streamsAt + $0 * Self.streamEntrySize) as UInt64
        }
        for i in lo..<hi {
            let e = streamsAt + i * Self.streamEntrySize
            let run = RunLocation(firstVersion: b.getInteger(at: e + 8), count: Int(b.getInteger(at: e + 20) as UInt32),
                                  positionsStart: Int(b.getInteger(at: e + 16) as UInt32))
            guard run.count > 0, run.positionsStart + run.count <= Int(eventCount), let first = position(in: run, at: 0) else { continue }
            if isStream(first) { return run }
        }
        return nil
    }

    /// The position of the `i`-th event of a run; nil when the run points outside the file.
    func position(in run: RunLocation, at i: Int) -> UInt64? {
        let at = streamPositionsAt + (run.positionsStart + i) * 4
        guard at >= streamPositionsAt, at + 4 <= streamPositionsAt + Int(eventCount) * 4 else { return nil }
        return firstPosition + UInt64(file.bytes.getInteger(at: at) as UInt32)
    }

    struct StreamRun {
        var firstVersion: UInt64
        var count: Int
        private let index: SegmentIndex
        fileprivate let positionsStart: Int

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

    /// The run of `stream` in this segment. The index keeps no names, only hashes, so a run whose
    /// hash matches is the stream's only if `isStream` says so of its last position: the caller
    /// reads that event's stream id (a crafted stream id can share another's hash).
    func run(ofStream stream: String, confirmedBy isStream: (UInt64) -> Bool) -> StreamRun? {
        let hash = IndexHash.hash(stream)
        let b = file.bytes
        let (lo, hi) = range(of: hash, bucket: Self.bucket(of: hash, bits: streamBits), fanoutAt: streamFanoutAt, count: streamCount) {
            b.getInteger(at: streamsAt + $0 * Self.streamEntrySize) as UInt64
        }
        for i in lo..<hi {
            let e = streamsAt + i * Self.streamEntrySize
            let run = StreamRun(index: self, firstVersion: b.getInteger(at: e + 8), count: Int(b.getInteger(at: e + 20) as UInt32),
                                positionsStart: Int(b.getInteger(at: e + 16) as UInt32))
            guard run.count > 0, run.positionsStart + run.count <= Int(eventCount) else { continue }
            // Confirmed at its last event: the one whose version the writer builds on.
            if isStream(run.position(at: run.count - 1)) { return run }
        }
        return nil
    }

    /// The half-open range of entries whose key is exactly `key`, within the fan-out bucket
    /// `bucket`, by binary search on the keys that `keyAt` reads.
    private func range<Key: Comparable>(of key: Key, bucket: Int, fanoutAt: Int, count: Int, keyAt: (Int) -> Key) -> (Int, Int) {
        let b = file.bytes
        var lo = Int(b.getInteger(at: fanoutAt + bucket * 4) as UInt32)
        var hi = Int(b.getInteger(at: fanoutAt + (bucket + 1) * 4) as UInt32)
        guard lo <= hi, hi <= count else { return (0, 0) }
        let bucketEnd = hi
        while lo < hi {
            let mid = (lo + hi) / 2
            if keyAt(mid) < key { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < bucketEnd, keyAt(end) == key { end += 1 }
        return (lo, end)
    }
}
