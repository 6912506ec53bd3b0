import Foundation

/// What the index check needs of each event of a sealed segment, column by column.
///
/// Reused from one segment to the next (`removeAll` keeps the capacity), so a 1.3-million-event
/// segment costs no allocation and no fresh page per event: growing and faulting in these
/// columns anew for every segment cost as much as the lookups themselves.
struct SegmentEvents {
    private(set) var ids: [UUID] = []
    private(set) var positions: [UInt64] = []
    private(set) var versions: [UInt64] = []
    /// The stream's slot in the verification's `StreamVersionTable`.
    private(set) var streams: [UInt32] = []

    var count: Int { ids.count }

    mutating func append(id: UUID, position: UInt64, version: UInt64, stream: UInt32) {
        ids.append(id)
        positions.append(position)
        versions.append(version)
        streams.append(stream)
    }

    mutating func removeAll() {
        ids.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
        versions.removeAll(keepingCapacity: true)
        streams.removeAll(keepingCapacity: true)
    }
}

/// Checks a sealed segment's index against the events verification read from its log: every
/// event id must lead to its position, and every stream version to its position.
///
/// The lookups go in the index's own order (its tables are sorted by hash), so a 50 MB index is
/// walked front to back instead of at random; findings are still reported in position order.
/// Each stream's run is looked up once per segment, by its name's bytes as verification keeps
/// them. Every buffer is kept from one segment to the next.
struct IndexCheck {
    /// One event as the id lookups need it, laid out in the index's order.
    private struct IDLookup {
        var hash: UInt64
        var position: UInt64
        var event: Int
    }

    private var hashes: [UInt64] = []
    private var order: [Int] = []
    private var bucketStarts: [Int] = []
    private var lookups: [IDLookup] = []
    /// Events whose id did not lead to their position, by event number.
    private var idsMissing: [Int] = []
    /// Indexed by stream slot: the number of the last segment that met the stream, and the
    /// stream's place in `runs` for that segment.
    private var seenIn: [UInt32] = []
    private var runOf: [UInt32] = []
    private var distinct: [UInt32] = []
    private var runs: [SegmentIndex.RunLocation?] = []
    private var segmentNumber: UInt32 = 0

    /// Appends one message per problem (at most 10 per segment), in position order.
    mutating func check(_ events: SegmentEvents, against index: SegmentIndex, streams: StreamVersionTable, finding: (String) -> Void) {
        let count = events.count
        // The id lookups: each event's hash, position and number are copied into the index's
        // order (a counting sort on the hash's top 16 bits), so that the walk below reads both
        // this table and the index's front to back instead of jumping through ten-megabyte columns.
        hashes.removeAll(keepingCapacity: true)
        for id in events.ids { hashes.append(IndexHash.hash(id)) }
        Self.bucketStarts(of: hashes, into: &bucketStarts)
        lookups.removeAll(keepingCapacity: true)
        lookups.append(contentsOf: repeatElement(IDLookup(hash: 0, position: 0, event: 0), count: count))
        for k in 0..<count {
            let h = hashes[k], b = Int(h >> 48)
            lookups[bucketStarts[b]] = IDLookup(hash: h, position: events.positions[k], event: k)
            bucketStarts[b] += 1
        }
        idsMissing.removeAll(keepingCapacity: true)
        for l in lookups where !index.eventID(hashed: l.hash, isAt: l.position) { idsMissing.append(l.event) }
        idsMissing.sort()

        segmentNumber &+= 1
        if seenIn.count < streams.count {
            seenIn.append(contentsOf: repeatElement(0, count: streams.count - seenIn.count))
            runOf.append(contentsOf: repeatElement(0, count: streams.count - runOf.count))
        }
        distinct.removeAll(keepingCapacity: true)
        for s in events.streams where seenIn[Int(s)] != segmentNumber {
            seenIn[Int(s)] = segmentNumber
            runOf[Int(s)] = UInt32(distinct.count)
            distinct.append(s)
        }
        hashes.removeAll(keepingCapacity: true)
        for s in distinct { hashes.append(streams.withName(ofSlot: Int(s)) { IndexHash.hash($0) }) }
        JournalVerifier.hashOrder(hashes, into: &order, starts: &bucketStarts)
        runs.removeAll(keepingCapacity: true)
        runs.append(contentsOf: repeatElement(nil, count: distinct.count))
        // The index keeps hashes only: a run is this stream's when the event at its first
        // position, as verification read it from the log, belongs to the stream.
        let firstPosition = events.positions.first ?? 0
        for k in order {
            let slot = distinct[k]
            runs[k] = index.runLocation(ofStreamHashed: hashes[k]) { position in
                guard position >= firstPosition, position - firstPosition < UInt64(count) else { return false }
                let i = Int(position - firstPosition)
                return events.positions[i] == position && events.streams[i] == slot
            }
        }
        if index.streamCount != distinct.count {
            finding("records \(index.streamCount) streams, the segment holds \(distinct.count)")
        }

        var problems = 0
        var nextMissing = 0
        for k in 0..<count where problems < 10 {
            let position = events.positions[k]
            if nextMissing < idsMissing.count, idsMissing[nextMissing] == k {
                nextMissing += 1
                finding("event id \(events.ids[k].uuidString) at position \(position) is not found through the index")
                problems += 1
            }
            let version = events.versions[k], stream = Int(events.streams[k])
            guard let run = runs[Int(runOf[stream])], version >= run.firstVersion, version - run.firstVersion < UInt64(run.count),
                  index.position(in: run, at: Int(version - run.firstVersion)) == position else {
                finding("stream '\(streams.name(ofSlot: stream))' version \(version) does not lead to position \(position) through the index")
                problems += 1
                continue
            }
        }
    }

    /// `starts[b]`: how many hashes have top 16 bits below `b`, for `b` in 0...65536.
    private static func bucketStarts(of hashes: [UInt64], into starts: inout [Int]) {
        starts.removeAll(keepingCapacity: true)
        starts.append(contentsOf: repeatElement(0, count: (1 << 16) + 1))
        for h in hashes { starts[Int(h >> 48) + 1] += 1 }
        for i in 1..<starts.count { starts[i] += starts[i - 1] }
    }
}
