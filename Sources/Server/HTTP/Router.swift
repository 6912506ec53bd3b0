import Foundation
import Journal
import NIOHTTP1

/// What a request asks for: a complete response, or a subscription stream.
enum Reply: Sendable {
    case response(ServerResponse)
    case subscribe(from: UInt64)
}

/// Maps method and path to an endpoint, checking access first. Every route answers JSON.
struct Router: Sendable {
    let journal: Journal
    let metrics: ServerMetrics
    let appends: AppendService
    let commands: CommandEndpoints
    let reads: ReadEndpoints
    let projections: ProjectionEndpoints
    let health: @Sendable () -> [UInt8]

    /// The route's name for metrics and logs, bounded so labels stay few.
    static func label(_ segments: [String]) -> String {
        switch segments.first {
        case "append", "commands", "streams", "subscribe", "projections", "health", "metrics": segments[0]
        case "events": segments.count > 1 ? "event" : "events"
        default: "unknown"
        }
    }

    /// The async form, for callers outside an event loop.
    func route(_ request: ServerRequest, permissions: Permissions, peerDescription: String) async -> Reply {
        await withCheckedContinuation { continuation in
            route(request, permissions: permissions, peerDescription: peerDescription, resume: .inPlace) { continuation.resume(returning: $0) }
        }
    }

    /// Answers on the calling thread whatever needs no journal commit (reads, refusals, bad
    /// input); appends and commands answer at `resume` once their frame is durable, and the
    /// projections (which fold the journal first) from a task of their own. `done` is called
    /// exactly once.
    func route(_ request: ServerRequest, permissions: Permissions, peerDescription: String, resume: ResumePoint,
               done: @escaping @Sendable (Reply) -> Void) {
        let reply = routeNow(request, permissions: permissions, peerDescription: peerDescription, resume: resume, done: done)
        if let reply { done(reply) }
    }

    /// Nil when the answer comes later through `done`.
    private func routeNow(_ request: ServerRequest, permissions: Permissions, peerDescription: String, resume: ResumePoint,
                          done: @escaping @Sendable (Reply) -> Void) -> Reply? {
        let s = request.segments
        let method = request.method
        func allow(_ methods: HTTPMethod...) -> ServerResponse? {
            if methods.contains(method) { return nil }
            var r = ServerResponse.error(.methodNotAllowed, "methodNotAllowed",
                                         "\(method.rawValue) is not allowed on /\(s.joined(separator: "/").prefix(80)); use \(methods.map(\.rawValue).joined(separator: " or "))")
            r.allow = methods.map(\.rawValue).joined(separator: ", ")
            return r
        }
        func denied(_ what: String) -> Reply {
            .response(.error(.forbidden, "forbidden", "\(peerDescription) may not \(what)"))
        }
        switch s.first {
        case "health" where s.count == 1:
            if let r = allow(.GET) { return .response(r) }
            return .response(.json(.ok, health()))
        case "metrics" where s.count == 1:
            if let r = allow(.GET) { return .response(r) }
            guard permissions.canAudit else { return denied("read the metrics (auditors only)") }
            return .response(ServerResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render(journal: journal)))
        case "append" where s.count == 1:
            if let r = allow(.POST) { return .response(r) }
            guard permissions.canAppendAnything else { return denied("append") }
            if let r = requireJSON(request) { return .response(r) }
            switch AppendBody.parse(request.bodyBytes) {
            case .failure(let problems): return .response(RequestProblem.response(problems))
            case .success(let body):
                appends.append(body, permissions: permissions, resume: resume) { done(.response($0)) }
                return nil
            }
        case "commands" where s.count >= 2:
            if let r = allow(.POST) { return .response(r) }
            guard permissions.canAppendAnything else { return denied("run commands") }
            if let r = requireJSON(request) { return .response(r) }
            commands.handle(Array(s.dropFirst()), body: request.bodyBytes, permissions: permissions, resume: resume) { done(.response($0)) }
            return nil
        case "streams" where s.count == 2:
            if let r = allow(.GET) { return .response(r) }
            guard permissions.canRead else { return denied("read streams") }
            return .response(reads.stream(s[1], query: request.query))
        case "events" where s.count <= 2:
            if let r = allow(.GET) { return .response(r) }
            guard permissions.canRead else { return denied("read events") }
            return .response(s.count == 1 ? reads.all(query: request.query) : reads.event(s[1]))
        case "subscribe" where s.count == 1:
            if let r = allow(.GET) { return .response(r) }
            guard permissions.canRead else { return denied("subscribe") }
            var q = QueryParameters(request.query, allowed: ["from"])
            let from = q.whole("from", default: 0)!
            guard q.isValid else { return .response(q.response) }
            return .subscribe(from: from)
        case "projections" where s.count >= 2:
            if let r = allow(.GET) { return .response(r) }
            guard permissions.canRead else { return denied("read projections") }
            let projections = self.projections, path = Array(s.dropFirst()), query = request.query
            Task { done(.response(await projections.handle(path, query: query, permissions: permissions))) }
            return nil
        default:
            return .response(.notFound("no endpoint at \(request.target.prefix(100)); see docs/SERVER.md"))
        }
    }

    private func requireJSON(_ request: ServerRequest) -> ServerResponse? {
        if request.hasJSONBody { return nil }
        let given = request.contentType.map { "'\($0.prefix(60))'" } ?? "none"
        return .error(.unsupportedMediaType, "unsupportedMediaType", "the body must be sent as Content-Type: application/json (given: \(given))")
    }
}
