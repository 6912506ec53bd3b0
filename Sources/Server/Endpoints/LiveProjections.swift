import Domain
import Foundation

/// The read models the server answers `/projections/...` from, kept up to date by following the
/// journal. The `Projections` module provides the implementation; the server only routes, checks
/// parameters and access, and answers 503 while none is plugged in.
///
/// Each query returns the JSON body to send, so the server needs no knowledge of the models.
public protocol LiveProjections: Sendable {
    /// Free places per slot, filtered by site, category and start time.
    func slots(_ query: SlotQuery) async throws -> [UInt8]
    /// One dossier's state and history, or nil when the projection has never seen it.
    func dossier(id: UUID) async throws -> [UInt8]?
    /// Dossiers, optionally only those in one state.
    func dossiers(state: DossierStatus?) async throws -> [UInt8]
    /// Delay statistics (count, mean, median, p90) grouped as asked.
    func delays(groupBy: DelayGrouping) async throws -> [UInt8]
    /// Abuse indicators per client fingerprint (auditors only).
    func abuse() async throws -> [UInt8]
    /// Called when the server begins to shut down: a query still folding the journal should stop
    /// (answering `ProjectionNotReady`) rather than hold the shutdown for the whole fold.
    func stopFolding()
}

extension LiveProjections {
    public func stopFolding() {}
}

public struct SlotQuery: Sendable, Equatable {
    public var site: Site?
    public var category: Domain.Category?
    public var from: Date?
    public var to: Date?

    public init(site: Site? = nil, category: Domain.Category? = nil, from: Date? = nil, to: Date? = nil) {
        self.site = site
        self.category = category
        self.from = from
        self.to = to
    }
}

/// `groupBy=` of `/projections/delays`: the projection's own groupings by name, and the short
/// names `site` (by category, site and month: the projection keeps no per-site total across
/// months) and `month` (by category and month, every site together).
public enum DelayGrouping: String, Sendable, CaseIterable {
    case category, site, month, overall
    case categoryMonth = "category-month"
    case categorySiteMonth = "category-site-month"
}

/// Thrown by a projection that is still catching up with the journal: the server answers 503.
public struct ProjectionNotReady: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// `GET /projections/...`.
struct ProjectionEndpoints: Sendable {
    let projections: (any LiveProjections)?

    func handle(_ path: [String], query: [String: String], permissions: Permissions) async -> ServerResponse {
        let known = ["slots", "dossiers", "delays", "abuse"]
        guard let first = path.first, known.contains(first), path.count <= 2, path.count == 1 || first == "dossiers" else {
            return .notFound("no projection at /projections/\(path.joined(separator: "/").prefix(80)); projections: slots, dossiers, dossiers/{id}, delays, abuse")
        }
        if first == "abuse", !permissions.canAudit {
            return .error(.forbidden, "forbidden", "the abuse projection is for auditors")
        }
        var q: QueryParameters
        switch (first, path.count) {
        case ("slots", _): q = QueryParameters(query, allowed: ["site", "category", "from", "to"])
        case ("dossiers", 1): q = QueryParameters(query, allowed: ["state"])
        case ("delays", _): q = QueryParameters(query, allowed: ["groupBy"])
        default: q = QueryParameters(query, allowed: [])
        }
        let slotQuery = first == "slots"
            ? SlotQuery(site: q.member("site", of: Site.self), category: q.member("category", of: Domain.Category.self), from: q.date("from"), to: q.date("to"))
            : SlotQuery()
        let state: DossierStatus? = first == "dossiers" && path.count == 1 ? q.choice("state", of: DossierStatus.allCases.map(\.rawValue)).flatMap(DossierStatus.init(rawValue:)) : nil
        let grouping = first == "delays" ? q.choice("groupBy", of: DelayGrouping.allCases.map(\.rawValue)).flatMap(DelayGrouping.init(rawValue:)) ?? .category : .category
        var dossierId: UUID?
        if first == "dossiers", path.count == 2 {
            guard let id = UUID(uuidString: path[1]) else { return .badRequest("invalidDossierId", "'\(path[1].prefix(60))' is not a dossier id (a UUID)") }
            dossierId = id
        }
        guard q.isValid else { return q.response }
        guard let projections else {
            return .error(.serviceUnavailable, "projectionsUnavailable", "live projections are not wired into this server yet")
        }
        do {
            switch first {
            case "slots": return .json(.ok, try await projections.slots(slotQuery))
            case "delays": return .json(.ok, try await projections.delays(groupBy: grouping))
            case "abuse": return .json(.ok, try await projections.abuse())
            default:
                if let dossierId {
                    guard let body = try await projections.dossier(id: dossierId) else {
                        return .error(.notFound, "dossierNotFound", "no dossier \(dossierId.uuidString.lowercased()) in the projection")
                    }
                    return .json(.ok, body)
                }
                return .json(.ok, try await projections.dossiers(state: state))
            }
        } catch let e as ProjectionNotReady {
            return .error(.serviceUnavailable, "projectionsUnavailable", e.message)
        } catch {
            return .error(.internalServerError, "projectionFailed", "\(error)")
        }
    }
}
