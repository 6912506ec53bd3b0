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
final class RuleReplay: @unchecked Sendable {
    struct Frame: Sendable {
        var file: String
        var offset: UInt64
        var payload: [UInt8]
        /// The stream number of each record, in order.
        var streams: [UInt32]
    }

    private let shards: [Shard]

    init(shards count: Int, findingLimit: Int) {
        shards = (0..<max(1, count)).map { Shard(index: $0, of: max(1, count), findingLimit: findingLimit) }
        for shard in shards {
            let thread = Thread { shard.run() }
            thread.name = "registre-audit-rules-\(shard.index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Hands a frame's decompressed payload to every shard; blocks while they are far behind,
    /// so memory stays bounded.
    func submit(_ frame: Frame) {
        for shard in shards { shard.submit(frame) }
    }

    /// Waits for the shards to finish and returns what they found, and how many events they checked.
    func finish() -> (FindingSink, Int) {
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
        var queue: [Frame] = []
        var queuedBytes = 0
        var closed = false
        let done = DispatchSemaphore(value: 0)
        var checker = RuleChecker()
        var sink: FindingSink
        static let maximumQueuedBytes = 32 << 20

        init(index: Int, of count: Int, findingLimit: Int) {
            self.index = index
            self.count = count
            sink = FindingSink(limit: findingLimit)
        }

        func submit(_ frame: Frame) {
            condition.lock()
            while queuedBytes > Self.maximumQueuedBytes { condition.wait() }
            queue.append(frame)
            queuedBytes += frame.payload.count
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
            while true {
                condition.lock()
                while queue.isEmpty && !closed { condition.wait() }
                if queue.isEmpty { condition.unlock(); break }
                let work = queue
                queue.removeAll(keepingCapacity: true)
                queuedBytes = 0
                condition.broadcast()
                condition.unlock()
                for frame in work { check(frame) }
            }
            done.signal()
        }

        private func check(_ frame: Frame) {
            let shards = UInt32(count), mine = UInt32(index)
            frame.payload.withUnsafeBytes { payload in
                var offset = 0
                for stream in frame.streams {
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
