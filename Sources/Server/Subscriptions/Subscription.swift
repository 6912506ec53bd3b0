import Foundation
import Journal
import NIOCore
import NIOHTTP1

/// `GET /subscribe?from=N`: every event from N on, then live ones as they commit, as NDJSON,
/// with a heartbeat line when nothing happens.
///
/// Memory per subscriber is bounded: events are read from the journal a chunk at a time and a
/// new chunk is written only while the channel is writable (below its high watermark). A client
/// that does not drain its socket for the stall timeout is sent a last line
/// `{"error":"tooSlow","message":…,"resumeFrom":N}` and disconnected; every event before N was
/// written ahead of that line, so reconnecting with `from=N` loses nothing and repeats nothing.
struct Subscription {
    let journal: Journal
    let channel: any Channel
    let configuration: ServerConfiguration
    let isDraining: @Sendable () -> Bool

    enum End: Equatable {
        case tooSlow(resumeFrom: UInt64)
        case shuttingDown(resumeFrom: UInt64)
        case clientGone
        case journalClosed(resumeFrom: UInt64)
    }

    private struct StallTimeout: Error {}

    static let chunkBytes = 64 << 10

    func run(from start: UInt64, version: HTTPVersion) async -> End {
        let allocator = channel.allocator
        var last = send(ResponseBytes.streamHead(version: version, contentType: "application/x-ndjson", allocator: allocator), flush: false)
        var next = start
        var lastWrite = ContinuousClock.now
        while true {
            // A client gone is told nothing, not even that the server is stopping.
            if !channel.isActive { return .clientGone }
            if isDraining() {
                await finishForShutdown(resumeFrom: next, version: version)
                return .shuttingDown(resumeFrom: next)
            }
            guard let writable = await isWritableOnItsLoop() else { return .clientGone }
            if !writable {
                channel.flush()
                // Waited in slices, so that a shutdown is noticed while the client does not read.
                let stalledSince = ContinuousClock.now
                var stall: End? = nil
                while stall == nil {
                    let left = configuration.subscriberStallTimeout - (ContinuousClock.now - stalledSince)
                    do {
                        try await wait(for: last, upTo: max(.zero, min(left, .milliseconds(250))))
                        break
                    } catch is StallTimeout {
                        if isDraining() {
                            stall = .shuttingDown(resumeFrom: next)
                        } else if left <= .milliseconds(250) {
                            stall = .tooSlow(resumeFrom: next)
                        }
                    } catch {
                        return .clientGone
                    }
                }
                switch stall {
                case .tooSlow?:
                    await finish(#"{"error":"tooSlow","message":"this subscriber did not read for \#(configuration.subscriberStallTimeout) and was disconnected; reconnect with from=\#(next)","resumeFrom":\#(next)}"#, version: version)
                    return .tooSlow(resumeFrom: next)
                case .shuttingDown?:
                    await finishForShutdown(resumeFrom: next, version: version)
                    return .shuttingDown(resumeFrom: next)
                default:
                    break
                }
            }
            var chunk: [UInt8] = []
            chunk.reserveCapacity(Self.chunkBytes + 4096)
            do {
                try journal.forEachEvent(from: next) { view in
                    WireFormat.appendJSON(of: view, to: &chunk)
                    chunk.append(0x0A)
                    next = view.position + 1
                    return chunk.count < Self.chunkBytes
                }
            } catch {
                // The events read before the failure are counted in `next`: they go out first.
                if !chunk.isEmpty { _ = send(ResponseBytes.streamPiece(chunk, version: version, allocator: allocator), flush: false) }
                await finish(#"{"error":"journalUnavailable","message":"reading the journal failed; reconnect with from=\#(next)","resumeFrom":\#(next)}"#, version: version)
                return .journalClosed(resumeFrom: next)
            }
            if !chunk.isEmpty {
                last = send(ResponseBytes.streamPiece(chunk, version: version, allocator: allocator), flush: true)
                lastWrite = .now
                continue
            }
            channel.flush()
            let sinceWrite = ContinuousClock.now - lastWrite
            let untilHeartbeat = configuration.heartbeatInterval - sinceWrite
            if untilHeartbeat <= .zero {
                let line = #"{"heartbeat":"\#(WireFormat.timestamp(micros: Int64(Date().timeIntervalSince1970 * 1_000_000)))","endPosition":\#(journal.endPosition)}"# + "\n"
                last = send(ResponseBytes.streamPiece(line.utf8, version: version, allocator: allocator), flush: true)
                lastWrite = .now
                continue
            }
            // Wake at least every 250 ms to notice shutdown and a vanished client.
            if await !journal.waitForEvents(beyond: next, timeout: min(untilHeartbeat, .milliseconds(250))), journal.isClosedForFollowers {
                // Closed under the subscription (an embedder that closed the journal first): every
                // wait would return at once, so end rather than spin.
                await finish(#"{"error":"journalUnavailable","message":"the journal was closed; reconnect with from=\#(next)","resumeFrom":\#(next)}"#, version: version)
                return .journalClosed(resumeFrom: next)
            }
        }
    }

    /// The channel's writability once the writes sent so far have reached its outbound buffer.
    /// They are sent from this task, off the event loop, so each is queued as a task of the loop:
    /// `isWritable` read here would not count them yet, and a fast reader of the journal would
    /// run ahead of the watermark by whatever the loop has not yet processed. The loop runs its
    /// tasks in order, so asking it answers after them (and suspends this task each chunk).
    /// Nil when the loop no longer takes tasks (the server is stopping).
    private func isWritableOnItsLoop() async -> Bool? {
        let channel = self.channel
        return try? await channel.eventLoop.submit { channel.isWritable }.get()
    }

    /// Waits for `write` to reach the socket, at most `timeout`; a timeout throws `StallTimeout`.
    private func wait(for write: EventLoopFuture<Void>, upTo timeout: Duration) async throws {
        let once = ResumeOnce()
        let completed: Result<Void, any Error>? = await withCheckedContinuation { continuation in
            once.set(continuation)
            let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
                once.resume(nil)
            }
            write.whenComplete { result in
                timer.cancel()
                once.resume(result)
            }
        }
        guard let completed else { throw StallTimeout() }
        try completed.get()
    }

    private func finishForShutdown(resumeFrom next: UInt64, version: HTTPVersion) async {
        await finish(#"{"error":"shuttingDown","message":"the server is shutting down; reconnect with from=\#(next)","resumeFrom":\#(next)}"#, version: version)
    }

    /// Queues the last line and the end of the stream, and gives the client the grace period to
    /// read them before the connection closes.
    private func finish(_ line: String, version: HTTPVersion) async {
        _ = send(ResponseBytes.streamPiece((line + "\n").utf8, version: version, allocator: channel.allocator), flush: false)
        let end = send(ResponseBytes.streamEnd(version: version, allocator: channel.allocator), flush: true)
        try? await wait(for: end, upTo: configuration.subscriberGracePeriod)
    }

    /// Writes straight to the channel (bypassing the async writer) so the write's completion can
    /// be watched; writes from one task reach the pipeline in order.
    private func send(_ part: ByteBuffer, flush: Bool) -> EventLoopFuture<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        if flush { channel.writeAndFlush(part, promise: promise) } else { channel.write(part, promise: promise) }
        return promise.futureResult
    }
}

/// Resumes a continuation exactly once, from whichever of two racing callbacks comes first.
private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<Void, any Error>?, Never>?
    private var early: Result<Void, any Error>??

    func set(_ c: CheckedContinuation<Result<Void, any Error>?, Never>) {
        let ready: Result<Void, any Error>?? = lock.withLock {
            if let early { return early }
            continuation = c
            return nil
        }
        if let ready { c.resume(returning: ready) }
    }

    func resume(_ value: Result<Void, any Error>?) {
        let c: CheckedContinuation<Result<Void, any Error>?, Never>? = lock.withLock {
            if let c = continuation { continuation = nil; early = .some(value); return c }
            if early == nil { early = .some(value) }
            return nil
        }
        c?.resume(returning: value)
    }
}
