import Domain
import Foundation

/// Each dossier's current state, counts per state, category and site, the backlog over time and
/// the dossiers past the implicit-rejection deadline.
///
/// The history of steps is not held here: it would grow with events rather than dossiers. The
/// offline rebuild writes it out as it folds, and a live server reads one dossier's stream
/// (`DossierTimeline`).
public struct DossierBoard: Sendable, Codable, Equatable {
    struct Dossier: Sendable, Codable, Equatable {
        var id: UUID
        var category: Domain.Category
        var kind: DossierKind
        var channel: FilingChannel
        var site: Site
        var status: DossierStatus
        var submittedAt: Int64
        var completedAt: Int64?
        var decidedAt: Int64?
        var decision: DecisionOutcome?
        var availableAt: Int64?
        var endedAt: Int64?
        var implicitRejectionRecorded = false
        var provisionalPermits: Int32 = 0
        var steps: Int32 = 1
        var lastEventAt: Int64
        var lastPosition: UInt64
    }

    struct CountKey: FastKey {
        var status: DossierStatus
        var category: Domain.Category
        var site: Site

        var fastHash: UInt64 { mix64(UInt64(ordinal(status)) << 16 | UInt64(ordinal(category)) << 8 | UInt64(ordinal(site))) }
    }

    struct BacklogDelta: Sendable, Codable, Equatable {
        var open: Int32 = 0
        var awaitingDecision: Int32 = 0
        var submitted: Int32 = 0
        var ended: Int32 = 0
    }

    var index = IndexTable()
    var dossiers = EntityArray<Dossier>()
    var countByGroup = FastMap<CountKey, Int>()
    /// Changes per day of business time; the backlog is their running sum.
    var backlogDeltas = CalendarTable<BacklogDelta>()
    /// Months from completion to implicit rejection (CESEDA R.432-2).
    public var implicitRejectionMonths = RuleParameters.standard.implicitRejectionMonths
    /// Derived: not encoded, not compared (see `RecentPositions`).
    var recent = RecentPositions()
    /// Derived: `countByGroup`'s ordinals by status, category and site.
    var countOrdinals = GroupOrdinals()

    enum CodingKeys: String, CodingKey { case index, dossiers, countByGroup, backlogDeltas, implicitRejectionMonths }

    public static func == (a: DossierBoard, b: DossierBoard) -> Bool {
        a.index == b.index && a.dossiers == b.dossiers && a.countByGroup == b.countByGroup && a.backlogDeltas == b.backlogDeltas
            && a.implicitRejectionMonths == b.implicitRejectionMonths
    }

    public init() {}

    // MARK: Fold

    mutating func submit(_ id: UUID, category: Domain.Category, kind: DossierKind, channel: FilingChannel, site: Site, at: Int64, position: UInt64) -> Bool {
        guard dossierIndex(of: id) == nil else { return false }
        index.insert(id.fastHash, Int32(dossiers.count))
        recent.remember(id.fastHash, Int32(dossiers.count))
        dossiers.append(Dossier(id: id, category: category, kind: kind, channel: channel, site: site, status: .submitted,
                                submittedAt: at, lastEventAt: at, lastPosition: position))
        count(1, status: .submitted, category: category, site: site)
        backlogDeltas.update(day: CivilCalendar.day(ofMillis: at), category: category, default: BacklogDelta()) { delta in
            delta.open += 1
            delta.awaitingDecision += 1
            delta.submitted += 1
        }
        return true
    }

    /// Applies a later step; returns the dossier's status afterwards, or `nil` for an unknown dossier.
    mutating func step(_ id: UUID, kind: EventKind, decision: DecisionOutcome?, at: Int64, position: UInt64) -> (status: DossierStatus, completedAt: Int64?, category: Domain.Category, site: Site)? {
        guard let slot = recentDossierIndex(of: id) else { return nil }
        let i = Int(slot)
        let before = dossiers[i].status
        var d = dossiers[i]
        d.steps += 1
        d.lastEventAt = at
        d.lastPosition = position
        switch kind {
        case .documentsRequested: d.status = .incomplete
        case .dossierDeclaredComplete:
            d.status = .complete
            if d.completedAt == nil { d.completedAt = at }
        case .provisionalPermitIssued:
            d.status = .underReview
            d.provisionalPermits += 1
        case .biometricsCaptured, .consultationRequested: d.status = .underReview
        case .decisionRecorded:
            d.status = decision == .granted ? .granted : .refused
            d.decision = decision
            d.decidedAt = at
        case .permitProductionOrdered: d.status = .inProduction
        case .permitAvailable:
            d.status = .available
            d.availableAt = at
        case .permitHandedOver: d.status = .handedOver
        case .dossierWithdrawn: d.status = .withdrawn
        case .dossierClosedForNoFollowUp: d.status = .closedForNoFollowUp
        case .implicitRejectionDeadlineReached: d.implicitRejectionRecorded = true
        default: break
        }
        if before.isOpen, !d.status.isOpen { d.endedAt = at }
        dossiers[i] = d
        if before != d.status {
            count(-1, status: before, category: d.category, site: d.site)
            count(1, status: d.status, category: d.category, site: d.site)
            let open = Int32(d.status.isOpen ? 1 : 0) - Int32(before.isOpen ? 1 : 0)
            let awaiting = Int32(d.status.awaitsDecision ? 1 : 0) - Int32(before.awaitsDecision ? 1 : 0)
            if open != 0 || awaiting != 0 {
                backlogDeltas.update(day: CivilCalendar.day(ofMillis: at), category: d.category, default: BacklogDelta()) { delta in
                    delta.open += open
                    delta.awaitingDecision += awaiting
                    if open < 0 { delta.ended += 1 }
                }
            }
        }
        return (d.status, d.completedAt, d.category, d.site)
    }

    /// Adds `delta` to the dossiers counted in a status, category and site.
    @inline(__always) private mutating func count(_ delta: Int, status: DossierStatus, category: Domain.Category, site: Site) {
        let group = GroupOrdinals.group(ordinal(status), ordinal(category), ordinal(site))
        let o: Int32
        if let known = countOrdinals.ordinal(group, tag: 0) {
            o = known
        } else {
            o = countByGroup.ordinal(inserting: CountKey(status: status, category: category, site: site), default: 0)
            countOrdinals.remember(group, tag: 0, ordinal: o)
        }
        countByGroup.update(at: o) { $0 += delta }
    }

    @inline(__always) func dossierIndex(of id: UUID) -> Int32? {
        dossiers.withUnsafeBufferPointer { d in index.find(id.fastHash) { d[Int($0)].id == id } }
    }

    /// `dossierIndex(of:)` for the fold: a dossier's steps come close together, so the ones
    /// looked up last are tried first.
    @inline(__always) mutating func recentDossierIndex(of id: UUID) -> Int32? {
        let hash = id.fastHash
        let found: Int32? = dossiers.withUnsafeBufferPointer { d in
            if let p = recent.find(hash, { d[Int($0)].id == id }) { return p }
            return index.find(hash) { d[Int($0)].id == id }
        }
        if let found { recent.remember(hash, found) }
        return found
    }

    // MARK: Queries

    public func dossier(id: UUID) -> DossierSummary? {
        dossierIndex(of: id).map { summary(dossiers[Int($0)]) }
    }

    /// Dossiers in `state`, in the order they were submitted.
    public func dossiers(state: DossierStatus) -> [DossierSummary] {
        dossiers.filter { $0.status == state }.map(summary)
    }

    public func allDossiers() -> [DossierSummary] { dossiers.map(summary) }

    /// Dossiers per state, category and site, leaving out empty groups.
    public func counts() -> [DossierCount] {
        countByGroup.entries.filter { $0.1 != 0 }
            .map { DossierCount(status: $0.0.status, category: $0.0.category, site: $0.0.site, dossiers: $0.1) }
            .sorted { ($0.status.rawValue, $0.category.rawValue, $0.site.rawValue) < ($1.status.rawValue, $1.category.rawValue, $1.site.rawValue) }
    }

    /// The backlog per category at the end of each day (UTC, business time) on which something
    /// changed it, with the running totals: between two rows of a category its backlog stays as
    /// the earlier row says. Sum the categories' latest rows for the whole prefecture.
    ///
    /// One row per day and category that changed, not per day of the span: dossiers dated
    /// 0001-01-01 and 9999-12-31 are two rows, not 3.6 million.
    public func backlog() -> [BacklogDay] {
        var changes: [(day: Int32, category: Domain.Category)] = []
        backlogDeltas.forEachKey { day, category in changes.append((day, category)) }
        // Running totals per category, in day order.
        changes.sort { (ordinal($0.category), $0.day) < (ordinal($1.category), $1.day) }
        var out: [(day: Int32, row: BacklogDay)] = []
        out.reserveCapacity(changes.count)
        var open = 0, awaiting = 0
        for (k, change) in changes.enumerated() {
            if k == 0 || changes[k - 1].category != change.category { (open, awaiting) = (0, 0) }
            let delta = backlogDeltas[change.day, change.category] ?? BacklogDelta()
            open += Int(delta.open)
            awaiting += Int(delta.awaitingDecision)
            out.append((change.day, BacklogDay(day: CivilCalendar.dayString(change.day), category: change.category, submitted: Int(delta.submitted),
                                               ended: Int(delta.ended), open: open, awaitingDecision: awaiting)))
        }
        // By day number, not by its text: a business time can round up to 10000-01-01.
        out.sort { ($0.day, $0.row.category.rawValue) < ($1.day, $1.row.category.rawValue) }
        return out.map(\.row)
    }

    /// Dossiers still awaiting a decision whose deadline (completion + 4 months) has passed at `time`.
    public func pastImplicitRejectionDeadline(at time: Date) -> [DossierSummary] {
        let now = Millis.of(time)
        return dossiers.filter { d in
            guard d.status.awaitsDecision, let due = deadline(d) else { return false }
            return due <= now
        }.map(summary)
    }

    func deadline(_ d: Dossier) -> Int64? {
        d.completedAt.map { Millis.of(UTCTime.adding(months: implicitRejectionMonths, to: Millis.date($0))) }
    }

    func summary(_ d: Dossier) -> DossierSummary {
        DossierSummary(dossierId: d.id, category: d.category, kind: d.kind, channel: d.channel, site: d.site, status: d.status,
                       submittedAt: Millis.date(d.submittedAt), completedAt: d.completedAt.map(Millis.date),
                       decidedAt: d.decidedAt.map(Millis.date), decision: d.decision, availableAt: d.availableAt.map(Millis.date),
                       endedAt: d.endedAt.map(Millis.date), implicitRejectionDue: deadline(d).map(Millis.date),
                       implicitRejectionRecorded: d.implicitRejectionRecorded, provisionalPermits: Int(d.provisionalPermits),
                       steps: Int(d.steps), lastEventAt: Millis.date(d.lastEventAt), lastPosition: d.lastPosition)
    }
}

extension DossierBoard {
    /// What is wrong with the dossiers, their index, the counts and the backlog, or `nil`: the
    /// index finds every dossier, the counts per state, category and site are those of the
    /// dossiers, and per category the backlog's changes add up to the dossiers submitted, open and
    /// awaiting a decision now. `position` is the number of events folded.
    func inconsistency(eventsFolded position: UInt64) -> String? {
        // `UTCTime.adding(months:to:)` computes each deadline from it: a century is far beyond any law.
        guard (0...1200).contains(implicitRejectionMonths) else { return "its implicit-rejection period is \(implicitRejectionMonths) months" }
        if let problem = dossiers.withUnsafeBufferPointer({ d in index.inconsistency(entities: d.count) { d[$0].id.fastHash } }) {
            return "the dossier index: \(problem)"
        }
        if let repeated = firstRepeat(in: dossiers, key: \.id) { return "dossier \(repeated) has the id of an earlier dossier" }
        if let problem = countByGroup.inconsistency() { return "the dossier counts: \(problem)" }
        if let problem = backlogDeltas.inconsistency(filler: BacklogDelta()) { return "the backlog: \(problem)" }
        let categories = Domain.Category.allCases.count
        var counted: [CountKey: Int] = [:]
        var now = [(submitted: Int, open: Int, awaiting: Int, closed: Int)](repeating: (0, 0, 0, 0), count: categories)
        for (i, d) in dossiers.enumerated() {
            if let problem = BusinessTime.outside(["submission": d.submittedAt, "completion": d.completedAt, "decision time": d.decidedAt,
                                                   "availability": d.availableAt, "end": d.endedAt, "last event time": d.lastEventAt]) {
                return "dossier \(i): \(problem)"
            }
            guard d.steps >= 1, UInt64(d.steps) <= position, d.provisionalPermits >= 0, d.provisionalPermits < d.steps else {
                return "dossier \(i) counts \(d.steps) steps and \(d.provisionalPermits) provisional permits, after \(position) events"
            }
            guard d.lastPosition < position else { return "dossier \(i) last changed at position \(d.lastPosition), after the \(position) events folded" }
            counted[CountKey(status: d.status, category: d.category, site: d.site), default: 0] += 1
            let c = Int(ordinal(d.category))
            now[c].submitted += 1
            if d.status.isOpen { now[c].open += 1 } else { now[c].closed += 1 }
            if d.status.awaitsDecision { now[c].awaiting += 1 }
        }
        for (key, n) in countByGroup.entries where n != counted[key, default: 0] {
            return "the dossier counts hold \(n) dossiers \(key.status.rawValue) in \(key.category.rawValue) at \(key.site.rawValue); there are \(counted[key, default: 0])"
        }
        for key in counted.keys where countByGroup[key] == nil {
            return "the dossier counts have no entry for the dossiers \(key.status.rawValue) in \(key.category.rawValue) at \(key.site.rawValue)"
        }
        // The backlog's rows are running sums of these changes: each must be one the events
        // could make, and per category they must add up to the dossiers as they stand.
        var sums = [(submitted: Int, open: Int, awaiting: Int, ended: Int)](repeating: (0, 0, 0, 0), count: categories)
        let bound = Int64(clamping: position)
        var problem: String? = nil
        backlogDeltas.forEachKey { day, category in
            guard problem == nil, let delta = backlogDeltas[day, category] else { return }
            guard delta.submitted >= 0, delta.ended >= 0, Int64(delta.submitted) <= bound, Int64(delta.ended) <= bound,
                  abs(Int64(delta.open)) <= bound, abs(Int64(delta.awaitingDecision)) <= bound else {
                problem = "the backlog of \(category.rawValue) on \(CivilCalendar.dayString(day)) holds changes no \(position) events could make"
                return
            }
            let c = Int(ordinal(category))
            sums[c].submitted += Int(delta.submitted)
            sums[c].open += Int(delta.open)
            sums[c].awaiting += Int(delta.awaitingDecision)
            sums[c].ended += Int(delta.ended)
        }
        if let problem { return problem }
        for category in Domain.Category.allCases {
            let c = Int(ordinal(category)), s = sums[c], d = now[c]
            guard s.submitted == d.submitted, s.open == d.open, s.awaiting == d.awaiting, s.ended >= d.closed else {
                return "the backlog of \(category.rawValue) adds up to \(s.submitted) submitted, \(s.open) open, \(s.awaiting) awaiting a decision and \(s.ended) ended; the dossiers are \(d.submitted), \(d.open), \(d.awaiting) and \(d.closed) ended"
            }
        }
        return nil
    }
}

extension DossierStatus {
    /// Before the decision, where the legal clock runs: the prefecture's backlog of work.
    var awaitsDecision: Bool {
        switch self {
        case .submitted, .incomplete, .complete, .underReview: true
        default: false
        }
    }
}

/// A dossier's current state.
public struct DossierSummary: Sendable, Codable, Equatable {
    public var dossierId: UUID
    public var category: Domain.Category
    public var kind: DossierKind
    public var channel: FilingChannel
    public var site: Site
    public var status: DossierStatus
    public var submittedAt: Date
    /// The first completion, which starts the legal clock.
    public var completedAt: Date?
    public var decidedAt: Date?
    public var decision: DecisionOutcome?
    public var availableAt: Date?
    /// When it reached an end state (refused, handed over, withdrawn, closed).
    public var endedAt: Date?
    /// Completion + 4 months: silence after this is an implicit rejection.
    public var implicitRejectionDue: Date?
    /// Whether the `ImplicitRejectionDeadlineReached` event was recorded.
    public var implicitRejectionRecorded: Bool
    public var provisionalPermits: Int
    /// Events in its stream so far, the submission included.
    public var steps: Int
    public var lastEventAt: Date
    public var lastPosition: UInt64
}

public struct DossierCount: Sendable, Codable, Equatable {
    public var status: DossierStatus
    public var category: Domain.Category
    public var site: Site
    public var dossiers: Int
}

/// The backlog of one category at the end of one day on which it changed (`DossierBoard.backlog()`):
/// until its next row, the category's backlog stays as this row says.
public struct BacklogDay: Sendable, Codable, Equatable {
    public var day: String
    public var category: Domain.Category
    /// Dossiers submitted that day.
    public var submitted: Int
    /// Dossiers that reached an end state that day.
    public var ended: Int
    /// Dossiers submitted and not ended, at the end of the day.
    public var open: Int
    /// Of those, the ones still waiting for a decision.
    public var awaitingDecision: Int
}
