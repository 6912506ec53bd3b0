import Journal
import NIOCore

/// Where a request's work goes on once the journal's writer has answered an append.
///
/// The writer thread is the one serial resource of the server: building a response or judging
/// rules again there would delay every other append waiting for its frame. So the server resumes
/// on the connection's event loop; tests without NIO resume in place.
struct ResumePoint: Sendable {
    let schedule: @Sendable (@escaping @Sendable () -> Void) -> Void

    static let inPlace = ResumePoint { $0() }

    static func eventLoop(_ loop: any EventLoop) -> ResumePoint {
        ResumePoint { work in
            if loop.inEventLoop { work() } else { loop.execute(work) }
        }
    }

    /// Queues `request` for the next group commit without blocking, and hands its outcome to
    /// `then` at this resume point. A request the journal refuses before queueing (limits, bad
    /// JSON) is answered at once, on the calling thread.
    func append(_ request: AppendRequest, to journal: Journal,
                then: @escaping @Sendable (Result<AppendResult, JournalError>) -> Void) {
        do {
            try journal.enqueueAppend(request) { result in
                schedule { then(result) }
            }
        } catch let error as JournalError {
            then(.failure(error))
        } catch {
            then(.failure(.writerFailed(reason: "\(error)")))
        }
    }
}
