import Domain
import Foundation
import Journal
import Testing
@testable import Projections

/// Six dossiers, one down each path: granted and handed over (through incompleteness and a
/// consultation), refused, withdrawn, closed for no follow-up, implicitly rejected, and one past
/// its deadline with nothing recorded.
struct DossierScenario {
    static let granted = Sample.uuid(0xD1), refused = Sample.uuid(0xD2), withdrawn = Sample.uuid(0xD3)
    static let closed = Sample.uuid(0xD4), implicit = Sample.uuid(0xD5), overdue = Sample.uuid(0xD6)
    let history = History()

    init() throws {
        let h = history
        func t(_ day: String) -> Date { Sample.time(day + "T10:00:00Z") }
        func submit(_ id: UUID, _ category: Domain.Category, _ site: Site, _ day: String) throws {
            h.record(try Decide.submit(h.dossier(id), for: Sample.identity(Int(id.uuid.15)), category: category, kind: .first, channel: .online, at: site, on: t(day)))
        }
        func step(_ id: UUID, _ step: DossierStep, _ day: String) throws {
            h.record(try Decide.advance(h.dossier(id), by: step, at: t(day)))
        }
        try submit(Self.granted, .student, .grenoble, "2024-01-10")
        try submit(Self.refused, .worker, .vienne, "2024-01-10")
        try submit(Self.closed, .student, .grenoble, "2024-01-10")
        try submit(Self.overdue, .student, .grenoble, "2024-01-10")
        try submit(Self.implicit, .family, .grenoble, "2024-01-05")
        try submit(Self.withdrawn, .family, .grenoble, "2024-01-15")
        try step(Self.granted, .requestDocuments(["proof-of-address"], dueBy: t("2024-02-10")), "2024-01-12")
        try step(Self.granted, .receiveDocuments(["proof-of-address"]), "2024-01-20")
        try step(Self.granted, .declareComplete, "2024-01-25")
        try step(Self.granted, .issueProvisionalPermit(.receipt, validFrom: t("2024-01-26"), validUntil: t("2024-04-26")), "2024-01-26")
        try step(Self.granted, .captureBiometrics(at: .grenoble, appointmentId: nil), "2024-02-05")
        try step(Self.granted, .requestConsultation(Sample.uuid(0xC0), from: .labour), "2024-02-06")
        try step(Self.granted, .answerConsultation(Sample.uuid(0xC0), outcome: .favourable), "2024-02-20")
        try step(Self.granted, .decide(.granted), "2024-03-01")
        try step(Self.granted, .orderProduction, "2024-03-02")
        try step(Self.granted, .makeAvailable(at: .grenoble), "2024-04-25")
        try step(Self.granted, .handOver(at: .grenoble, appointmentId: nil), "2024-05-02")
        try step(Self.refused, .declareComplete, "2024-01-11")
        try step(Self.refused, .captureBiometrics(at: .vienne, appointmentId: nil), "2024-01-20")
        try step(Self.refused, .decide(.refused), "2024-02-10")
        try step(Self.withdrawn, .withdraw, "2024-01-20")
        try step(Self.closed, .requestDocuments(["passport-copy"], dueBy: t("2024-01-31")), "2024-01-11")
        try step(Self.closed, .closeForNoFollowUp, "2024-02-05")
        try step(Self.implicit, .declareComplete, "2024-01-08")
        try step(Self.implicit, .issueProvisionalPermit(.receipt, validFrom: t("2024-01-09"), validUntil: t("2024-04-09")), "2024-01-09")
        try step(Self.implicit, .reachImplicitRejectionDeadline, "2024-05-09")
        try step(Self.overdue, .declareComplete, "2024-01-31")
    }
}

@Suite("Dossier status")
struct DossierBoardTests {
    @Test("states, counts, backlog, deadlines and history of dossiers down every path")
    func everyPathByHand() throws {
        let dir = TemporaryDirectory("dossiers")
        let events = try DossierScenario().history.write(to: dir.path)
        var set = ProjectionSet()
        var steps: [DossierHistoryEntry] = []
        try ProjectionRebuild.fold(journal: dir.path, into: &set, onStep: { steps.append($0) })

        let expected: [(UUID, DossierStatus)] = [(DossierScenario.granted, .handedOver), (DossierScenario.refused, .refused),
                                                 (DossierScenario.withdrawn, .withdrawn), (DossierScenario.closed, .closedForNoFollowUp),
                                                 (DossierScenario.implicit, .underReview), (DossierScenario.overdue, .complete)]
        for (id, status) in expected { #expect(set.dossier(id: id)?.status == status) }
        #expect(set.dossier(id: DossierScenario.implicit)?.implicitRejectionRecorded == true)
        #expect(set.dossier(id: DossierScenario.granted)?.completedAt == Sample.time("2024-01-25T10:00:00Z"))
        #expect(set.dossier(id: DossierScenario.granted)?.steps == 12)
        #expect(set.dossiers(state: .underReview).map(\.dossierId) == [DossierScenario.implicit])

        let counts = set.dossierCounts().map { "\($0.status.rawValue)/\($0.category.rawValue)/\($0.site.rawValue)=\($0.dossiers)" }
        #expect(counts == ["closedForNoFollowUp/student/grenoble=1", "complete/student/grenoble=1", "handedOver/student/grenoble=1",
                           "refused/worker/vienne=1", "underReview/family/grenoble=1", "withdrawn/family/grenoble=1"])

        // Due dates: 2024-01-08 + 4 months = 05-08, 2024-01-31 + 4 months = 05-31.
        #expect(set.pastImplicitRejectionDeadline(at: Sample.time("2024-05-20T00:00:00Z")).map(\.dossierId) == [DossierScenario.implicit])
        #expect(set.pastImplicitRejectionDeadline(at: Sample.time("2024-06-01T00:00:00Z")).map(\.dossierId) == [DossierScenario.overdue, DossierScenario.implicit])

        // Students: three submitted on 01-10; one closed 02-05; one decided 03-01 and handed over 05-02.
        let students = Dictionary(uniqueKeysWithValues: set.backlog().filter { $0.category == .student }.map { ($0.day, $0) })
        #expect(students["2024-01-10"].map { [$0.submitted, $0.open, $0.awaitingDecision] } == [3, 3, 3])
        #expect(students["2024-02-05"].map { [$0.ended, $0.open, $0.awaitingDecision] } == [1, 2, 2])
        #expect(students["2024-03-01"].map { [$0.open, $0.awaitingDecision] } == [2, 1])
        #expect(students["2024-05-02"].map { [$0.ended, $0.open, $0.awaitingDecision] } == [1, 1, 1])
        #expect(set.backlog().first?.day == "2024-01-05")
        // The implicit-rejection flag of 05-09 changes no state, so the last change is the handover of 05-02.
        #expect(set.backlog().last?.day == "2024-05-02")

        let grantedSteps = steps.filter { $0.dossierId == DossierScenario.granted }
        #expect(grantedSteps.map(\.statusAfter) == [.submitted, .incomplete, .incomplete, .complete, .underReview, .underReview, .underReview,
                                                    .underReview, .granted, .inProduction, .available, .handedOver])
        #expect(steps.count == events.count)
        // A live server rebuilds one dossier's history from its stream alone.
        let stream = events.filter { $0.stream == "dossier-\(DossierScenario.granted.canonicalString)" }
        #expect(try DossierTimeline.steps(of: stream) == grantedSteps)
    }

    @Test("dossiers dated 0001-01-01 and 9999-12-31 make a dossier_backlog of three rows with running totals, not one row per day of the span")
    func backlogOfExtremeDatesStaysSmall() throws {
        let h = History()
        let first = Sample.uuid(0xE1), last = Sample.uuid(0xE2)
        h.record(try Decide.submit(h.dossier(first), for: Sample.identity(1), category: .student, kind: .first, channel: .online, at: .grenoble,
                                   on: Sample.time("0001-01-01T00:00:00Z")))
        h.record(try Decide.submit(h.dossier(last), for: Sample.identity(2), category: .student, kind: .first, channel: .online, at: .grenoble,
                                   on: Sample.time("9999-12-31T23:59:59Z")))
        h.record(try Decide.advance(h.dossier(first), by: .withdraw, at: Sample.time("5000-06-15T12:00:00Z")))
        let dir = TemporaryDirectory("backlog-extremes")
        try h.write(to: dir.path + "/journal")
        let report = try ProjectionRebuild.export(journal: dir.path + "/journal", to: dir.path + "/out", format: .csv)
        // RFC 4180: lines end with CRLF.
        let rows = try String(contentsOfFile: dir.path + "/out/dossier_backlog.csv", encoding: .utf8).components(separatedBy: "\r\n").dropLast()
        try #require(rows.count == 4, "a header and three rows, not \(rows.count - 1) rows")
        #expect(Array(rows) == ["day,category,submitted,ended,open,awaiting_decision",
                                "0001-01-01,student,1,0,1,1", "5000-06-15,student,0,1,0,0", "9999-12-31,student,1,0,1,1"])
        #expect(report.set.backlog().map(\.open) == [1, 0, 1])
    }

    @Test("the backlog has a row only where a category changed, carrying its running totals between rows")
    func backlogRowsAreTheDaysOfChange() throws {
        var set = ProjectionSet()
        let events: [DomainEvent] = [
            .dossierSubmitted(DossierSubmitted(dossierId: Sample.uuid(1), identityKey: Sample.identity(1), category: .student, kind: .first, channel: .online,
                                               site: .grenoble, occurredAt: Sample.time("2024-03-01T10:00:00Z"))),
            .dossierSubmitted(DossierSubmitted(dossierId: Sample.uuid(2), identityKey: Sample.identity(2), category: .worker, kind: .first, channel: .online,
                                               site: .vienne, occurredAt: Sample.time("2024-03-05T10:00:00Z"))),
            // A completion changes neither the open nor the awaiting count: no row.
            .dossierDeclaredComplete(DossierDeclaredComplete(dossierId: Sample.uuid(2), occurredAt: Sample.time("2024-03-06T10:00:00Z"))),
            .dossierSubmitted(DossierSubmitted(dossierId: Sample.uuid(3), identityKey: Sample.identity(3), category: .student, kind: .renewal, channel: .post,
                                               site: .grenoble, occurredAt: Sample.time("2024-03-20T10:00:00Z"))),
            .decisionRecorded(DecisionRecorded(dossierId: Sample.uuid(2), outcome: .granted, occurredAt: Sample.time("2024-04-30T10:00:00Z"))),
            .dossierWithdrawn(DossierWithdrawn(dossierId: Sample.uuid(1), occurredAt: Sample.time("2024-04-30T11:00:00Z"))),
        ]
        for (n, event) in events.enumerated() {
            try set.apply(event, stream: "dossier", id: Sample.uuid(0x100 + n), position: UInt64(n), recordedAtMicros: Int64(n), endsAppend: true)
        }
        let rows = set.backlog().map { "\($0.day) \($0.category.rawValue) +\($0.submitted) -\($0.ended) open \($0.open) awaiting \($0.awaitingDecision)" }
        #expect(rows == ["2024-03-01 student +1 -0 open 1 awaiting 1",
                         "2024-03-05 worker +1 -0 open 1 awaiting 1",
                         "2024-03-20 student +1 -0 open 2 awaiting 2",
                         "2024-04-30 student +0 -1 open 1 awaiting 1",
                         "2024-04-30 worker +0 -0 open 1 awaiting 0"])
    }
}
