/// What one peer may do, the union of every grant of the access policy that matches it.
public struct Permissions: Sendable, Equatable {
    /// Read streams, events, subscriptions and the non-audit projections.
    public var canRead = false
    /// Everything a reader can, plus the abuse projection and the metrics.
    public var canAudit = false
    /// The scopes within which the peer may append; empty means it may not append at all.
    public var appendScopes: [AppendScope] = []

    public init(canRead: Bool = false, canAudit: Bool = false, appendScopes: [AppendScope] = []) {
        self.canRead = canRead
        self.canAudit = canAudit
        self.appendScopes = appendScopes
    }

    public static let everything = Permissions(canRead: true, canAudit: true, appendScopes: [AppendScope()])
    public static let nothing = Permissions()

    public var canAppendAnything: Bool { !appendScopes.isEmpty }

    /// Nil when some scope admits an event of `type` in `stream`, else the reason it is refused.
    public func appendRefusal(stream: String, type: String) -> String? {
        if appendScopes.isEmpty { return "this peer may not append" }
        if appendScopes.contains(where: { $0.admits(stream: stream, type: type) }) { return nil }
        return "this peer may not append \(type) events to \(stream.prefix(80)) (allowed: \(appendScopes.map(\.description).joined(separator: "; ")))"
    }

    /// Nil when some scope admits `stream` and one of `types` (any type the scope allows when
    /// nil), else the reason it is refused: the check a command makes before deciding.
    public func appendRefusal(stream: String, anyOf types: Set<String>?) -> String? {
        if appendScopes.isEmpty { return "this peer may not append" }
        let admitted = appendScopes.contains { scope in
            (scope.streamPrefixes.map { p in p.contains { stream.hasPrefix($0) } } ?? true)
                && (types == nil || scope.eventTypes.map { !$0.isDisjoint(with: types!) } ?? true)
        }
        if admitted { return nil }
        let what = types.map { $0.sorted().joined(separator: " or ") + " events" } ?? "events"
        return "this peer may not append \(what) to \(stream.prefix(80)) (allowed: \(appendScopes.map(\.description).joined(separator: "; ")))"
    }

    mutating func merge(_ other: Permissions) {
        canRead = canRead || other.canRead || other.canAudit
        canAudit = canAudit || other.canAudit
        appendScopes += other.appendScopes
    }
}

/// One appender grant: event types and stream prefixes it is limited to (nil: no limit).
public struct AppendScope: Sendable, Equatable, CustomStringConvertible {
    public var eventTypes: Set<String>?
    public var streamPrefixes: [String]?

    public init(eventTypes: Set<String>? = nil, streamPrefixes: [String]? = nil) {
        self.eventTypes = eventTypes
        self.streamPrefixes = streamPrefixes
    }

    public func admits(stream: String, type: String) -> Bool {
        if let eventTypes, !eventTypes.contains(type) { return false }
        if let streamPrefixes, !streamPrefixes.contains(where: { stream.hasPrefix($0) }) { return false }
        return true
    }

    public var description: String {
        let types = eventTypes.map { "types " + $0.sorted().joined(separator: ",") } ?? "any type"
        let prefixes = streamPrefixes.map { "streams " + $0.map { $0 + "*" }.joined(separator: ",") } ?? "any stream"
        return types + " in " + prefixes
    }
}
