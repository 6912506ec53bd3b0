import Foundation
import NIOCore

/// Connections set up but not yet picked up by a handler.
///
/// NIO traps if an async channel's writer is released without being finished; a connection
/// accepted just as the listener closes is set up but never delivered to the accept loop. Keeping
/// every such connection here until a handler takes it, and finishing whatever is left at
/// shutdown, makes that race harmless.
final class AcceptedConnections: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [ObjectIdentifier: AcceptedConnection] = [:]

    func hold(_ connection: AcceptedConnection) {
        lock.withLock { waiting[ObjectIdentifier(connection.channel.channel)] = connection }
    }

    func take(_ connection: AcceptedConnection) {
        _ = lock.withLock { waiting.removeValue(forKey: ObjectIdentifier(connection.channel.channel)) }
    }

    /// Closes every connection nobody picked up.
    func closeLeftovers() async {
        let left = lock.withLock { defer { waiting.removeAll() }; return Array(waiting.values) }
        for connection in left {
            try? await connection.channel.executeThenClose { _, _ in }
        }
    }
}
