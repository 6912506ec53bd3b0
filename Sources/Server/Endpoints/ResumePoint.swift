import Journal
import NIOCore
import Synchronization

/// Where a request's work goes on once the journal's writer has answered an append.
///
/// The writer thread is the one serial resource of the server: building a response or judging
/// rules again there would delay every other append waiting for its frame. So the server resumes
/// on the connection's event loop; tests without NIO resume in place.
struct ResumePoint: Sendable {
    let schedule: @Sendable (@escaping @Sendable () -> Void) -> Void
    /// The server's appends between queueing and answer; nil where nothing is counted (tests).
    let appends: AppendsInFlight?

    init(appends: AppendsInFlight? = nil, schedule: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) {
        self.appends = appends
        self.schedule = schedule
    }

    static let inPlace = ResumePoint { $0() }

    static func eventLoop(_ loop: any EventLoop, appends: AppendsInFlight? = nil) -> ResumePoint {
        ResumePoint(appends: appends) { work in
            if loop.inEventLoop { work() } else { loop.execute(work) }
        }
    }

    /// Queues `request` for the next group commit, and hands its outcome to `then` at this
    /// resume point. A request the journal refuses before queueing (limits, bad JSON) is answered
    /// at once, on the calling thread.
    ///
    /// The only append in flight on the whole server is committed right here when the writer is
    /// idle: the event loop then waits for the sync instead of handing the append to the writer
    /// thread and being woken with the answer (two thread hand-offs, about a sixth of a bulk
    /// load's batch). No other client has an append waiting, so the group commit loses nothing;
    /// reads of other connections on this loop wait for one sync at most.
    func append(_ request: AppendRequest, to journal: Journal,
                then: @escaping @Sendable (Result<AppendResult, JournalError>) -> Void) {
        let alone = appends?.begin() == 1
        let appends = self.appends
        do {
            try journal.enqueueAppend(request, committingHereIfIdle: alone) { result in
                appends?.end()
                schedule { then(result) }
            }
        } catch let error as JournalError {
            appends?.end()
            then(.failure(error))
        } catch {
            appends?.end()
            then(.failure(.writerFailed(reason: "\(error)")))
        }
    }
}

/// How many of the server's appends are queued or being committed, so an append can tell that
/// it is the only one (`ResumePoint.append`).
final class AppendsInFlight: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts an append in; returns how many are in flight with it.
    func begin() -> Int { count.add(1, ordering: .acquiringAndReleasing).newValue }

    func end() { count.subtract(1, ordering: .acquiringAndReleasing) }

    var current: Int { count.load(ordering: .acquiring) }
}
