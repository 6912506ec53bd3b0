import Domain
import Foundation
import Journal

/// Replays every event through the domain's `RuleChecker` on worker threads, off the thread that
/// hashes and checks the log.
///
/// RuleChecker's state is per aggregate, and an aggregate is a stream, so streams are split
/// between shards by the number verification gives each stream (`VerifiedFrame.streamNumbers`):
/// each shard sees every event of its streams in journal order and reaches exactly the verdicts
/// a single checker would. A shard skips the others' records by their length alone.
///
/// Frames travel in batches of about a megabyte, and a batch every shard has read is reused for
/// later frames: copying each frame into a fresh array made the kernel hand out and zero new
/// pages for every frame, which cost the verifying thread more than the copy itself.
final class RuleReplay: @unchecked Sendable {
    /// Frames handed to the shards together: their payloads back to back, and the stream number
    /// of every record. Written by the verifying thread only before it is submitted; read-only
    /// afterwards until every shard has returned it.
    final class Batch: @unchecked Sendable {
        struct Frame {
            var file: String
            var offset: UInt64
            var bytes: Range<Int>
            var streams: Range<Int>
        }

        var bytes: [UInt8] = []
        var streams: [UInt32] = []
        var frames: [Frame] = []
        /// Shards that have not finished with it yet; guarded by the replay's pool lock.
        var unread = 0

        func append(file: String, offset: UInt64, payload: UnsafeRawBufferPointer, streams numbers: UnsafeBufferPointer<UInt32>) {
            let start = bytes.count, first = streams.count
            bytes.append(contentsOf: payload)
            streams.append(contentsOf: numbers)
            frames.append(Frame(file: file, offset: offset, bytes: start..<bytes.count, streams: first..<streams.count))
        }

        func clear() {
            bytes.removeAll(keepingCapacity: true)
            streams.removeAll(keepingCapacity: true)
            frames.removeAll(keepingCapacity: true)
        }
    }

    static let batchBytes = 1 << 20

    private let shards: [Shard]
    private var current = Batch()
    private let pool = NSLock()
    private var spare: [Batch] = []

    init(shards count: Int, findingLimit: Int) {
        shards = (0..<max(1, count)).map { Shard(index: $0, of: max(1, count), findingLimit: findingLimit) }
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
        current.append(file: file, offset: offset, payload: payload, streams: streams)
        if current.bytes.count >= Self.batchBytes { flush() }
    }

    private func flush() {
        guard !current.frames.isEmpty else { return }
        let batch = current
        batch.unread = shards.count
        pool.lock()
        current = spare.popLast() ?? Batch()
        pool.unlock()
        for shard in shards { shard.submit(batch) }
    }

    /// Called by each shard when it has checked every frame of `batch`; the last one recycles it.
    fileprivate func finished(_ batch: Batch) {
        pool.lock()
        batch.unread -= 1
        if batch.unread == 0 {
            batch.clear()
            spare.append(batch)
        }
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
        var sink: FindingSink
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
                    for frame in batch.frames { check(frame, in: batch) }
                    replay?.finished(batch)
                }
                work.removeAll(keepingCapacity: true)
            }
            done.signal()
        }

        private func check(_ frame: Batch.Frame, in batch: Batch) {
            let shards = UInt32(count), mine = UInt32(index)
            batch.bytes.withUnsafeBytes { all in
                batch.streams.withUnsafeBufferPointer { numbers in
                    let payload = UnsafeRawBufferPointer(rebasing: all[frame.bytes])
                    var offset = 0
                    for stream in numbers[frame.streams] {
                        guard payload.count - offset >= 4 else { return }
                        let length = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian) + 4
                        guard length <= payload.count - offset else { return }
                        defer { offset += length }
                        if shards > 1, stream % shards != mine { continue }
                        guard let view = EventView.validating(UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + length)])) else { return }
                        let violations = checker.check(streamUTF8: view.streamBytes.bindMemory(to: UInt8.self), typeUTF8: view.typeBytes.bindMemory(to: UInt8.self),
                                                       data: view.dataBytes.bindMemory(to: UInt8.self), position: view.position)
                        for v in violations {
                            sink.add(AuditFinding(file: frame.file, offset: frame.offset, position: v.position, eventID: view.id,
                                                  rule: v.rule.rawValue, message: "\(v.type) in stream '\(v.stream)': \(v.message)"))
                        }
                    }
                }
            }
        }
    }
}
