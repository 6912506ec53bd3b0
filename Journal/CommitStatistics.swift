/// What one group commit wrote, for a server's metrics: how many appends shared one frame and one
/// fdatasync, and how long the write and the sync took.
public struct CommitStatistics: Sendable, Equatable {
    /// Events in the frame.
    public var events: Int
    /// Appends (client requests) packed into the frame.
    public var appends: Int
    /// Bytes written for the frame, header included.
    public var frameBytes: Int
    /// Time spent in write(2) and fdatasync(2) for the frame.
    public var writeAndSync: Duration

    public init(events: Int, appends: Int, frameBytes: Int, writeAndSync: Duration) {
        self.events = events
        self.appends = appends
        self.frameBytes = frameBytes
        self.writeAndSync = writeAndSync
    }
}
