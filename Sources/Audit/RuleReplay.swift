import Domain
import Foundation
import Journal

/// Replays every event through the domain's `RuleChecker` on worker threads, off the thread that
/// hashes and checks the log.
///
/// RuleChecker's state is per aggregate, and an aggregate is a stream, so each stream belongs to
/// one shard, chosen when it first appears (by the number verification gives each stream,
/// `VerifiedFrame.streamNumbers`): each shard sees every event of its streams in journal order
/// and reaches exactly the verdicts a single checker would. A shard skips the others' records by
/// nothing of them: the verifying thread lists each shard's records, so a shard reads only its own
/// (skipping the others' by their length fields cost a cache miss per record, 7 % of a shard).
///
/// A new stream whose first event is a twin of the event before it (same type, same data: a
/// booking written to the slot's stream and then to the applicant's) joins that event's shard,
/// so the twins of later appends usually meet in one checker, which decodes them once
/// (`RuleChecker` remembers the last event it decoded). Other new streams go to the shard that
/// has been given the fewest record bytes so far: taking the shards in turn let the periodic
/// order in which a simulated day opens its streams put most slots on one shard and most
/// dossiers on the other (16.4 s of CPU against 6.4).
///
/// Frames travel in batches of about a megabyte, and a batch every shard has read is reused for
/// later frames: copying each frame into a fresh array made the kernel hand out and zero new
/// pages for every frame, which cost the verifying thread more than the copy itself.
///
/// The server refuses an event of several streams (a booking: its slot's and its applicant's)
/// unless one append writes it to all of them (`stream.missingHome`), and no shard can see that:
/// the copies lie in streams that may belong to different shards. So each record carries the
/// number of its append in the batch (from the records' end-of-append flag), each shard lists
/// where the copies of such events that it decoded and placed lie, and the shard that finishes a
/// batch last judges the batch's appends with all of them: on their bytes when the copies come as
/// the server's decisions write them, otherwise with the server's own function
/// (`missingHomeProblems`). A batch holds
/// whole frames and a frame whole appends, so no append is ever split between batches.
final class RuleReplay: @unchecked Sendable {
    /// Frames handed to the shards together: their payloads back to back, and for each shard
    /// where its records lie. Written by the verifying thread only before it is submitted;
    /// read-only afterwards until every shard has returned it.
    final class Batch: @unchecked Sendable {
        /// Where a frame came from, for the findings in it.
        struct Frame {
            var file: String
            var offset: UInt64
        }

        /// One record: its bytes in `bytes`, its frame in `frames`, and its append (numbered
        /// from 0 in the batch).
        struct Record {
            var start: UInt32
            var length: UInt32
            var frame: UInt32
            var append: UInt32
        }

        /// A record that a shard decoded and placed, of an event of several streams: where it lies
        /// in the batch, and how many streams the event lives in. Kept until the batch's appends are judged.
        struct HomeCopy {
            var position: UInt64
            var start: UInt32
            var length: UInt32
            var frame: UInt32
            var append: UInt32
            var homes: Int
        }

        /// One shard's copies: each shard appends to its own list only, and the shard that judges
        /// the batch reads them all once every shard is done with it (ordered by the pool's lock),
        /// so the accesses never overlap and need no run-time exclusivity check.
        final class HomeCopies: @unchecked Sendable {
            @exclusivity(unchecked) var items: [HomeCopy] = []
        }

        var bytes: [UInt8] = []
        var frames: [Frame] = []
        /// Indexed by shard: its records, in journal order.
        var records: [[Record]]
        /// Appends begun in the batch so far.
        var appends: UInt32 = 0
        /// Indexed by shard: the copies of events of several streams it checked, in journal order.
        let homeCopies: [HomeCopies]
        /// Shards that have not finished with it yet; guarded by the replay's pool lock.
        var unread = 0

        init(shards: Int) {
            records = Array(repeating: [], count: shards)
            homeCopies = (0..<shards).map { _ in HomeCopies() }
        }

        func append(file: String, offset: UInt64, payload: UnsafeRawBufferPointer, placements: ShardAssignment.Placements) {
            let base = bytes.count, frame = UInt32(frames.count)
            bytes.append(contentsOf: payload)
            frames.append(Frame(file: file, offset: offset))
            var append = appends
            for p in placements {
                records[Int(p.owner)].append(Record(start: UInt32(base + p.start), length: UInt32(p.length), frame: frame, append: append))
                if p.endsAppend { append += 1 }
            }
            // A frame holds one or more whole appends, never part of one (FORMAT.md, section 3):
            // the writer packs only whole appends into a frame, so an append never continues in
            // the next frame, and one whose last record lacks the flag still ends with its frame.
            if let last = placements.last, !last.endsAppend { append += 1 }
            appends = append
        }

        func clear() {
            bytes.removeAll(keepingCapacity: true)
            frames.removeAll(keepingCapacity: true)
            for shard in records.indices { records[shard].removeAll(keepingCapacity: true) }
            for copies in homeCopies { copies.items.removeAll(keepingCapacity: true) }
            appends = 0
        }
    }

    /// Records of at most 4 GiB apart in a batch: far above it, since a batch is sent at 1 MiB.
    static let batchBytes = 1 << 20

    private let shards: [Shard]
    private var assignment: ShardAssignment
    private var current: Batch
    private let pool = NSLock()
    private var spare: [Batch] = []

    init(shards count: Int, findingLimit: Int) {
        // Owners are kept as bytes, one a record.
        let count = min(256, max(1, count))
        shards = (0..<count).map { Shard(index: $0, of: count, findingLimit: findingLimit) }
        assignment = ShardAssignment(shards: count)
        current = Batch(shards: count)
        for shard in shards {
            shard.replay = self
            let thread = Thread { shard.run() }
            thread.name = "registre-audit-rules-\(shard.index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Adds a frame's decompressed payload and stream numbers (copied: the caller's buffers are
    /// reused) to the batch for the shards; blocks while they are far behind, so memory stays bounded.
    func submit(file: String, offset: UInt64, payload: UnsafeRawBufferPointer, streams: UnsafeBufferPointer<UInt32>) {
        current.append(file: file, offset: offset, payload: payload, placements: assignment.place(payload, streams: streams))
        if current.bytes.count >= Self.batchBytes { flush() }
    }

    private func flush() {
        guard !current.frames.isEmpty else { return }
        let batch = current
        batch.unread = shards.count
        pool.lock()
        current = spare.popLast() ?? Batch(shards: shards.count)
        pool.unlock()
        for shard in shards { shard.submit(batch) }
    }

    /// Called by each shard when it has checked every frame of `batch`; the last one judges its
    /// appends, with every shard's copies in (the lock orders their writes before this read), and
    /// recycles it.
    fileprivate func finished(_ batch: Batch, by shard: Shard) {
        pool.lock()
        batch.unread -= 1
        let last = batch.unread == 0
        pool.unlock()
        guard last else { return }
        shard.judgeAppends(of: batch)
        batch.clear()
        pool.lock()
        spare.append(batch)
        pool.unlock()
    }

    /// Waits for the shards to finish and returns what they found, and how many events they checked.
    func finish() -> (FindingSink, Int) {
        flush()
        for shard in shards { shard.close() }
        var sink = FindingSink(limit: shards.first?.sink.limit ?? 0)
        var checked = 0
        for shard in shards {
            shard.done.wait()
            sink.merge(shard.sink)
            checked += shard.checker.eventsChecked
        }
        // Appointment ids reused across applicants or slots: shards own streams, so only the
        // bookings of all of them together show it. Where a booking lies is looked up only for
        // the few that are reported.
        for v in RuleChecker.appointmentIdConflicts(inLists: shards.map(\.checker.bookings)) {
            let place = shards.lazy.compactMap { $0.place(ofBookingAt: v.position) }.first
            sink.add(AuditFinding(file: place?.file, offset: place?.offset, position: v.position, eventID: place?.eventID,
                                  rule: v.rule.rawValue, message: "\(v.type) in stream '\(v.stream)': \(v.message)"))
        }
        return (sink, checked)
    }

    final class Shard: @unchecked Sendable {
        let index: Int
        let count: Int
        let condition = NSCondition()
        var queue: [Batch] = []
        var queuedBytes = 0
        var closed = false
        let done = DispatchSemaphore(value: 0)
        var checker = RuleChecker()
        /// Where each of `checker.bookings` lies, in the same order.
        var bookingPlaces: [Place] = []

        /// Where this shard's booking at `position` lies; its bookings are in journal order.
        func place(ofBookingAt position: UInt64) -> Place? {
            let bookings = checker.bookings
            var low = 0, high = bookings.count
            while low < high {
                let middle = (low + high) / 2
                if bookings[middle].position < position { low = middle + 1 } else { high = middle }
            }
            guard low < bookings.count, bookings[low].position == position, low < bookingPlaces.count else { return nil }
            return bookingPlaces[low]
        }
        var sink: FindingSink

        struct Place {
            var file: String
            var offset: UInt64
            var eventID: UUID
        }
        /// Set before the thread starts; the shard hands finished batches back to it.
        weak var replay: RuleReplay?
        static let maximumQueuedBytes = 32 << 20

        init(index: Int, of count: Int, findingLimit: Int) {
            self.index = index
            self.count = count
            sink = FindingSink(limit: findingLimit)
        }

        func submit(_ batch: Batch) {
            condition.lock()
            while queuedBytes > Self.maximumQueuedBytes { condition.wait() }
            queue.append(batch)
            queuedBytes += batch.bytes.count
            condition.broadcast()
            condition.unlock()
        }

        func close() {
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }

        func run() {
            var work: [Batch] = []
            while true {
                condition.lock()
                while queue.isEmpty && !closed { condition.wait() }
                if queue.isEmpty { condition.unlock(); break }
                swap(&work, &queue)
                queuedBytes = 0
                condition.broadcast()
                condition.unlock()
                for batch in work {
                    check(batch)
                    replay?.finished(batch, by: self)
                }
                work.removeAll(keepingCapacity: true)
            }
            done.signal()
        }

        private func check(_ batch: Batch) {
            batch.bytes.withUnsafeBytes { all in
                for record in batch.records[index] {
                    let start = Int(record.start)
                    guard let view = EventView.validating(UnsafeRawBufferPointer(rebasing: all[start..<(start + Int(record.length))])) else { continue }
                    let violations = checker.check(streamUTF8: view.streamBytes.bindMemory(to: UInt8.self), typeUTF8: view.typeBytes.bindMemory(to: UInt8.self),
                                                   data: view.dataBytes.bindMemory(to: UInt8.self), position: view.position)
                    if checker.bookings.count > bookingPlaces.count {
                        let frame = batch.frames[Int(record.frame)]
                        bookingPlaces.append(Place(file: frame.file, offset: frame.offset, eventID: view.id))
                    }
                    if checker.lastPlacedHomeCount > 1 {
                        batch.homeCopies[index].items.append(Batch.HomeCopy(position: view.position, start: record.start, length: record.length,
                                                                            frame: record.frame, append: record.append, homes: checker.lastPlacedHomeCount))
                    }
                    guard !violations.isEmpty else { continue }
                    let frame = batch.frames[Int(record.frame)]
                    for v in violations {
                        sink.add(AuditFinding(file: frame.file, offset: frame.offset, position: v.position, eventID: view.id,
                                              rule: v.rule.rawValue, message: "\(v.type) in stream '\(v.stream)': \(v.message)"))
                    }
                }
            }
        }

        /// Where the next copy of each shard's list is, where one append's copies are (list and
        /// index, in journal order), and those copies decoded, as the server's function takes
        /// them: kept from batch to batch.
        private var heads: [Int] = []
        private var refs: [(list: Int, index: Int)] = []
        private var placed: [(index: Int, stream: StreamName, event: DomainEvent)] = []

        /// Reports, as the server would have refused them (`stream.missingHome`), the copies of
        /// events of several streams that their append did not write to all of their homes. Every
        /// shard's list is in journal order, so merging them by position gives each append's
        /// copies together and in order.
        fileprivate func judgeAppends(of batch: Batch) {
            let lists = batch.homeCopies.map(\.items)
            heads.removeAll(keepingCapacity: true)
            heads.append(contentsOf: repeatElement(0, count: lists.count))
            batch.bytes.withUnsafeBytes { bytes in
                func view(_ r: (list: Int, index: Int)) -> EventView {
                    let c = lists[r.list][r.index]
                    // Read and checked before it was listed.
                    return EventView.validating(UnsafeRawBufferPointer(rebasing: bytes[Int(c.start)..<Int(c.start + c.length)]))!
                }
                while true {
                    refs.removeAll(keepingCapacity: true)
                    var append: UInt32? = nil
                    while true {
                        var pick = -1
                        for k in lists.indices where heads[k] < lists[k].count && (append == nil || lists[k][heads[k]].append == append) {
                            if pick < 0 || lists[k][heads[k]].position < lists[pick][heads[pick]].position { pick = k }
                        }
                        guard pick >= 0 else { break }
                        append = lists[pick][heads[pick]].append
                        refs.append((pick, heads[pick]))
                        heads[pick] += 1
                    }
                    guard !refs.isEmpty else { break }
                    if Self.eachRunHasAllItsHomes(refs, in: lists, view: view) { continue }
                    // Rare (a copy missing, or copies the server's decisions would not have
                    // written so): decoded again, and judged as the server judges an append.
                    placed.removeAll(keepingCapacity: true)
                    for (i, r) in refs.enumerated() {
                        let v = view(r)
                        guard let stream = StreamName(parsing: v.stream),
                              let event = try? DomainEvent.decode(type: v.type, data: Array(v.dataBytes), eventIndex: i) else { continue }
                        placed.append((index: i, stream: stream, event: event))
                    }
                    for problem in missingHomeProblems(placed) {
                        let c = lists[refs[problem.eventIndex].list][refs[problem.eventIndex].index]
                        let v = view(refs[problem.eventIndex])
                        let frame = batch.frames[Int(c.frame)]
                        sink.add(AuditFinding(file: frame.file, offset: frame.offset, position: c.position, eventID: v.id, rule: problem.rule,
                                              message: "\(v.type) in stream '\(v.stream)': \(problem.message)"))
                    }
                }
            }
        }

        /// Whether the append's copies come in runs of consecutive copies of one event, the same
        /// type and data bytes, each run in as many different streams as the event has homes: how
        /// the server's decisions write them, so it holds for every append of an honest journal,
        /// at the cost of comparing each copy's bytes with the one before it. A run's copies were
        /// each placed in one of the event's homes, so different streams as many as its homes are
        /// all of them, and the server's function would find nothing. Any other append is judged
        /// by that function, which compares decoded events, so copies whose bytes differ but
        /// decode alike are still found to be copies.
        private static func eachRunHasAllItsHomes(_ refs: [(list: Int, index: Int)], in lists: [[Batch.HomeCopy]],
                                                  view: ((list: Int, index: Int)) -> EventView) -> Bool {
            var i = 0
            while i < refs.count {
                let first = view(refs[i])
                let homes = lists[refs[i].list][refs[i].index].homes
                var j = i + 1
                while j < refs.count, j - i < homes {
                    let next = view(refs[j])
                    guard same(next.typeBytes, first.typeBytes), same(next.dataBytes, first.dataBytes) else { break }
                    for k in i..<j where same(view(refs[k]).streamBytes, next.streamBytes) { return false }
                    j += 1
                }
                guard j - i == homes else { return false }
                i = j
            }
            return true
        }

        private static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
            a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
        }
    }
}

/// Which shard owns each stream: fixed when the stream first appears, then never changed, so a
/// shard sees every event of its streams. Used by the verifying thread only.
struct ShardAssignment {
    /// A record of a frame: where it lies in the payload, and the shard that checks it.
    struct Placement {
        var start: Int
        var length: Int
        var owner: UInt8
        /// The record's flag: the last of its append.
        var endsAppend: Bool
    }

    typealias Placements = ArraySlice<Placement>

    let shards: Int
    /// Indexed by stream number (dense, in order of first appearance).
    private var ownerOfStream: [UInt8] = []
    /// Record bytes given to each shard so far: what decoding and checking costs it, roughly.
    private var load: [Int]
    private var placements: [Placement] = []

    init(shards: Int) {
        precondition(shards >= 1 && shards <= 256, "between 1 and 256 rule shards")
        self.shards = shards
        load = Array(repeating: 0, count: shards)
    }

    /// Each record of a frame whose records decoded, in order, with its owner. A stream met for
    /// the first time joins the shard of the record before it when that record is its twin (same
    /// type and data bytes), and otherwise the least loaded shard. Stops at a record whose
    /// lengths do not add up, as a shard reading the frame would (verification found none).
    mutating func place(_ payload: UnsafeRawBufferPointer, streams: UnsafeBufferPointer<UInt32>) -> Placements {
        placements.removeAll(keepingCapacity: true)
        var offset = 0
        var previous: EventView? = nil
        for stream in streams {
            guard payload.count - offset >= 4 else { break }
            let length = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian) + 4
            guard length <= payload.count - offset,
                  let record = EventView.validating(UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + length)])) else { break }
            let number = Int(stream)
            while ownerOfStream.count < number { ownerOfStream.append(leastLoaded()) }
            if number == ownerOfStream.count {
                if let previous, let before = placements.last, Self.twins(record, previous) {
                    ownerOfStream.append(before.owner)
                } else {
                    ownerOfStream.append(leastLoaded())
                }
            }
            let owner = ownerOfStream[number]
            load[Int(owner)] += length
            placements.append(Placement(start: offset, length: length, owner: owner, endsAppend: record.endsAppend))
            previous = record
            offset += length
        }
        return placements[...]
    }

    private func leastLoaded() -> UInt8 {
        var best = 0
        for shard in 1..<shards where load[shard] < load[best] { best = shard }
        return UInt8(truncatingIfNeeded: best)
    }

    private static func twins(_ a: EventView, _ b: EventView) -> Bool {
        same(a.typeBytes, b.typeBytes) && same(a.dataBytes, b.dataBytes)
    }

    private static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}
