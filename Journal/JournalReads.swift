import Foundation

public enum ReadDirection: String, Sendable {
    case forwards, backwards
}

/// Reads through the writer's indexes. Safe from any thread, concurrently with appends.
extension Journal {
    /// Where a committed frame lives, captured under the lock so the I/O can run without it.
    private struct FrameLocation {
        var file: FileDescriptor
        var name: String
        var offset: UInt64
        var limit: UInt64
        /// The position asked for: in a packed segment several frames share a block's offset.
        var position: UInt64
        /// In a sealed segment, the only kind that may be packed into blocks worth caching.
        var isSealed: Bool
    }

    private func locateFrame(containing position: UInt64) -> FrameLocation? {
        lock.withLock {
            guard position < nextPosition else { return nil }
            if position >= openTable.firstPosition {
                guard let f = openTable.frame(containing: position) else { return nil }
                return FrameLocation(file: openFile, name: openName, offset: f.offset, limit: openEnd, position: position, isSealed: false)
            }
            var lo = 0, hi = sealed.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if sealed[mid].index.firstPosition <= position { lo = mid } else { hi = mid - 1 }
            }
            let s = sealed[lo]
            guard let f = s.index.frame(containing: position) else { return nil }
            return FrameLocation(file: s.file, name: s.name, offset: f.offset, limit: s.index.segmentLength, position: position, isSealed: true)
        }
    }

    /// The header of the committed frame holding `position`, or nil past the end.
    func frameHeader(containing position: UInt64) throws -> FrameHeader? {
        guard let location = locateFrame(containing: position) else { return nil }
        var found: FrameHeader? = nil
        try withFrame(at: location) { header, _ in found = header }
        return found
    }

    /// Decodes the frame holding `location.position` and hands it to `body`. A frame in a block
    /// of a packed segment comes from the block cache, or goes into it with its block.
    private func withFrame(at location: FrameLocation, _ body: (FrameHeader, UnsafeRawBufferPointer) throws -> Void) throws {
        func missing() -> JournalError {
            .corrupt(JournalDamage(kind: .badIndex, file: location.name, offset: location.offset, position: location.position,
                                   detail: "the indexed block holds no frame with position \(location.position)"))
        }
        if location.isSealed, let block = blockCache.block(in: location.file, at: location.offset) {
            guard try block.withFrame(containing: location.position, body) != nil else { throw missing() }
            return
        }
        let cursor = FrameCursor(file: location.file, from: location.offset, limit: location.limit,
                                 maximumPayload: JournalFormat.maximumPayloadBytes, chunkSize: 64 << 10)
        var step = try cursor.next()
        if case .frame = step, let block = cursor.takeDecodedBlock() {
            blockCache.insert(block, in: location.file, at: location.offset)
            guard try block.withFrame(containing: location.position, body) != nil else { throw missing() }
            return
        }
        // In a packed segment the offset is the block's: skip its frames before the one wanted.
        while case .frame(let header, _, _) = step, header.firstPosition + UInt64(header.eventCount) <= location.position {
            step = try cursor.next()
        }
        switch step {
        case .frame(let header, _, let payload):
            guard header.firstPosition <= location.position else {
                throw JournalError.corrupt(JournalDamage(kind: .badIndex, file: location.name, offset: location.offset, position: location.position,
                                                         detail: "the indexed frame starts at position \(header.firstPosition), after the position sought"))
            }
            try body(header, payload)
        case .end, .incomplete:
            throw JournalError.corrupt(JournalDamage(kind: .truncatedSealedSegment, file: location.name, offset: location.offset, position: nil, detail: "an indexed frame is missing"))
        case .invalid(let offset, let kind, let reason):
            throw JournalError.corrupt(JournalDamage(kind: kind, file: location.name, offset: offset, position: nil, detail: reason))
        }
    }

    /// The event at a global position, or nil past the end.
    public func event(at position: UInt64) throws -> RecordedEvent? {
        try events(at: [position]).first
    }

    /// Events at the given positions (in that order), decoding each frame once.
    public func events(at positions: [UInt64]) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        out.reserveCapacity(positions.count)
        var i = 0
        while i < positions.count {
            guard let location = locateFrame(containing: positions[i]) else { break }
            try withFrame(at: location) { header, payload in
                let end = header.firstPosition + UInt64(header.eventCount)
                var wanted: [UInt64: Int] = [:]
                var j = i
                while j < positions.count, positions[j] >= header.firstPosition, positions[j] < end {
                    wanted[positions[j]] = j
                    j += 1
                }
                var found = [RecordedEvent?](repeating: nil, count: j - i)
                try RecordCodec.forEachRecord(in: payload, firstPosition: header.firstPosition, eventCount: header.eventCount) { view in
                    if let k = wanted[view.position] { found[k - i] = view.materialize() }
                }
                out.append(contentsOf: found.compactMap { $0 })
                i = j
            }
        }
        return out
    }

    /// The event with this id, if committed.
    public func event(id: UUID) throws -> RecordedEvent? {
        try committedEvent(id: id)
    }

    /// Throws when a candidate's segment cannot be read: an id reported missing because its
    /// event is unreadable would let a retry be written twice.
    func committedEvent(id: UUID) throws -> RecordedEvent? {
        let hash = IndexHash.hash(id)
        let (inOpen, segments, filters, filteredFrom) = lock.withLock {
            (openTable.candidatePositions(forEventID: id), sealed, idFilters, idFilterCoversFrom)
        }
        for p in inOpen {
            if let e = try event(at: p), e.id == id { return e }
        }
        // Segments the filters cover need no lookup when none of the filters may hold the id.
        let skipFiltered = !filters.contains { $0.mayContain(hash) }
        for s in segments.reversed() where !(skipFiltered && s.index.firstPosition >= filteredFrom) {
            for p in s.index.candidatePositions(forEventID: id) {
                if let e = try event(at: p), e.id == id { return e }
            }
        }
        return nil
    }

    /// The last version of a stream, or nil when it has no events. A sealed segment that cannot
    /// be read to confirm an index hit is damage: the journal stops taking appends
    /// (`committedLastVersion(of:)` is the throwing form the writer uses).
    public func lastVersion(of stream: String) -> UInt64? {
        do {
            return try committedLastVersion(of: stream)
        } catch {
            poison(error as? JournalError ?? .writerFailed(reason: "\(error)"))
            return nil
        }
    }

    /// The last version of a stream, or nil when it has no events; throws when a sealed segment
    /// cannot be read to confirm it. For deciding on a stream's state: a stream that cannot be
    /// read is not a stream that does not exist (`lastVersion(of:)` returns nil for both, and
    /// stops the writer).
    public func committedLastVersion(of stream: String) throws -> UInt64? {
        let (inOpen, segments): (UInt64?, [SealedSegment]) = lock.withLock { (openTable.lastVersion(of: stream), sealed) }
        if let v = inOpen { return v }
        for s in segments.reversed() {
            if let run = try confirmedRun(of: stream, in: s) { return run.lastVersion }
        }
        return nil
    }

    /// A sealed segment's run of `stream`, checked against its last event, with one frame read:
    /// the index stores hashes, not names, so that event must be the stream's; and the writer
    /// takes its next version from the run, so it must carry the version the run gives it (an
    /// index that says otherwise would have versions handed out twice).
    private func confirmedRun(of stream: String, in segment: SealedSegment) throws -> SegmentIndex.StreamRun? {
        var failure: (any Error)? = nil
        var lastVersion: UInt64? = nil
        let run = segment.index.run(ofStream: stream) { position in
            do {
                lastVersion = try version(ofEventAt: position, ifInStream: stream)
                return lastVersion != nil
            } catch { failure = error; return false }
        }
        if let failure { throw failure }
        guard let run else { return nil }
        let lastPosition = run.position(at: run.count - 1)
        let (last, overflow) = run.firstVersion.addingReportingOverflow(UInt64(run.count - 1))
        // A stream's version v is at global position v or later: no version passes its position.
        guard !overflow, last <= lastPosition, lastVersion == last else {
            throw JournalError.corrupt(JournalDamage(
                kind: .badIndex, file: segment.name + " (index)", offset: 0, position: lastPosition,
                detail: "the index gives stream '\(stream.prefix(80))' versions \(run.firstVersion) to \(overflow ? "past 2^64" : String(last)) over \(run.count) events, but its event at position \(lastPosition) carries version \(lastVersion.map(String.init) ?? "?")"))
        }
        return run
    }

    /// Whether the committed event at `position` belongs to `stream`, without materialising it.
    func isEvent(at position: UInt64, ofStream stream: String) throws -> Bool {
        try version(ofEventAt: position, ifInStream: stream) != nil
    }

    /// The version of the committed event at `position` when it belongs to `stream`, else nil.
    private func version(ofEventAt position: UInt64, ifInStream stream: String) throws -> UInt64? {
        guard let location = locateFrame(containing: position) else { return nil }
        var found: UInt64? = nil
        try withFrame(at: location) { header, payload in
            try RecordCodec.forEachRecord(in: payload, firstPosition: header.firstPosition, eventCount: header.eventCount) { view in
                if view.position == position {
                    var name = stream
                    if name.withUTF8({ view.streamBytes.elementsEqual(UnsafeRawBufferPointer($0)) }) { found = view.version }
                }
            }
        }
        return found
    }

    /// Positions of a stream's events from `version`, in the given direction, at most `limit`.
    public func streamPositions(_ stream: String, from version: UInt64?, direction: ReadDirection = .forwards, limit: Int) -> [(version: UInt64, position: UInt64)] {
        guard limit > 0 else { return [] }
        let (openRun, segments): (StreamRuns.Run?, [SealedSegment]) = lock.withLock { (openTable.streams.run(of: stream), sealed) }
        var runs: [(firstVersion: UInt64, count: Int, position: (Int) -> UInt64)] = []
        for s in segments {
            // A hit that cannot be confirmed lies in a damaged frame: the run is kept, so that
            // reading its events throws the damage to the caller, and the journal stops appends.
            let run: SegmentIndex.StreamRun?
            do { run = try confirmedRun(of: stream, in: s) } catch {
                poison(error as? JournalError ?? .writerFailed(reason: "\(error)"))
                run = s.index.run(ofStream: stream) { _ in true }
            }
            if let run { runs.append((run.firstVersion, run.count, run.position(at:))) }
        }
        if let r = openRun { runs.append((r.firstVersion, r.positions.count, { r.positions[$0] })) }
        var out: [(version: UInt64, position: UInt64)] = []
        switch direction {
        case .forwards:
            let start = version ?? 0
            // Runs come from indexes on disk (unconfirmed after damage): no arithmetic may trap.
            for run in runs where run.firstVersion.addingReportingOverflow(UInt64(run.count)).partialValue > start
                && !run.firstVersion.addingReportingOverflow(UInt64(run.count)).overflow {
                var k = start > run.firstVersion ? Int(start - run.firstVersion) : 0
                while k < run.count, out.count < limit {
                    out.append((run.firstVersion &+ UInt64(k), run.position(k)))
                    k += 1
                }
                if out.count == limit { break }
            }
        case .backwards:
            let start = version ?? UInt64.max
            for run in runs.reversed() where run.firstVersion <= start {
                var k = min(run.count - 1, Int(min(start - run.firstVersion, UInt64(run.count - 1))))
                while k >= 0, out.count < limit {
                    out.append((run.firstVersion &+ UInt64(k), run.position(k)))
                    k -= 1
                }
                if out.count == limit { break }
            }
        }
        return out
    }

    /// Reads one stream from `version` (nil: the start, or the end when reading backwards).
    public func readStream(_ stream: String, from version: UInt64? = nil, direction: ReadDirection = .forwards, limit: Int = 1000) throws -> [RecordedEvent] {
        let positions = streamPositions(stream, from: version, direction: direction, limit: limit)
        let found = direction == .forwards ? try events(at: positions.map(\.position))
            : try events(at: positions.map(\.position).reversed()).reversed()
        // The positions come from indexes, which confirm only a run's last event: each event read
        // must be the stream's, at the version its run gives it, or the index lies (and a fold
        // of these events would decide on another stream's history).
        for (k, p) in positions.enumerated() where k >= found.count || found[k].stream != stream || found[k].version != p.version {
            let segment = locateFrame(containing: p.position)?.name ?? "an index"
            let what = k < found.count ? "holds version \(found[k].version) of stream '\(found[k].stream.prefix(80))'" : "holds no event"
            throw JournalError.corrupt(JournalDamage(kind: .badIndex, file: segment, offset: 0, position: p.position,
                                                     detail: "the index places version \(p.version) of stream '\(stream.prefix(80))' at position \(p.position), which \(what)"))
        }
        return found
    }

    /// Reads the whole journal in order from `position`, at most `limit` events.
    public func readAll(from position: UInt64 = 0, limit: Int = 1000) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try forEachEvent(from: position) { view in
            out.append(view.materialize())
            return out.count < limit
        }
        return out
    }

    /// Visits committed events in order from `position` without copying them; return false to stop.
    public func forEachEvent(from position: UInt64 = 0, _ body: (EventView) throws -> Bool) throws {
        var next = position
        while true {
            guard let location = locateFrame(containing: next) else { return }
            let cursor = FrameCursor(file: location.file, from: location.offset, limit: location.limit, maximumPayload: JournalFormat.maximumPayloadBytes)
            var keepGoing = true
            let start = next
            scan: while keepGoing {
                switch try cursor.next() {
                case .end, .incomplete:
                    // The index said `next` is here: a file that ends first was cut after it was
                    // written (asking for the same frame again would loop forever).
                    guard next > start else {
                        throw JournalError.corrupt(JournalDamage(kind: .truncatedSealedSegment, file: location.name, offset: location.offset, position: next,
                                                                 detail: "the file ends before position \(next), which its index places at byte \(location.offset)"))
                    }
                    break scan
                case .invalid(let offset, let kind, let reason):
                    throw JournalError.corrupt(JournalDamage(kind: kind, file: location.name, offset: offset, position: next, detail: reason))
                case .frame(let header, let offset, let payload):
                    // A block's frames before `next` (packed segments share one offset per block).
                    if header.firstPosition + UInt64(header.eventCount) <= next { continue scan }
                    // An index that points past `next` would have events skipped without a word.
                    guard header.firstPosition <= next else {
                        throw JournalError.corrupt(JournalDamage(kind: .badIndex, file: location.name, offset: offset, position: next,
                                                                 detail: "the index places position \(next) at byte \(location.offset), but the frame read from there starts at position \(header.firstPosition)"))
                    }
                    try RecordCodec.forEachRecord(in: payload, firstPosition: header.firstPosition, eventCount: header.eventCount) { view in
                        guard keepGoing, view.position >= next else { return }
                        keepGoing = try body(view)
                        next = view.position + 1
                    }
                    next = max(next, header.firstPosition + UInt64(header.eventCount))
                }
            }
            if !keepGoing { return }
        }
    }
}
