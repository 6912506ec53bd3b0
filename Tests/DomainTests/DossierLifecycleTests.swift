import Foundation
import Testing
import Domain

private let start = Sample.releaseTime
private let dueBy = start.addingTimeInterval(30 * 86_400)
/// Late enough for every deadline: documents due, and four months after completion.
private let late = start.addingTimeInterval(200 * 86_400)

/// A dossier taken along `steps`, one minute apart, through the decision functions.
private func dossier(after steps: [DossierStep], id: UUID = Sample.uuid(0xD1)) throws -> DossierState {
    var journal = MemoryJournal()
    try journal.append(try Decide.submit(DossierState(dossierId: id), for: Sample.identity(1), category: .worker, kind: .first,
                                         channel: .online, at: .grenoble, on: start))
    for (index, step) in steps.enumerated() {
        try journal.append(try Decide.advance(journal.dossier(id), by: step, at: start.addingTimeInterval(Double(index + 1) * 60)))
    }
    return journal.dossier(id)
}

private let pathTo: [DossierStatus: [DossierStep]] = {
    let review: [DossierStep] = [.declareComplete, .captureBiometrics(at: .grenoble, appointmentId: nil)]
    return [
        .submitted: [],
        .incomplete: [.requestDocuments(["proof-of-address"], dueBy: dueBy)],
        .complete: [.declareComplete],
        .underReview: review,
        .granted: review + [.decide(.granted)],
        .refused: review + [.decide(.refused)],
        .inProduction: review + [.decide(.granted), .orderProduction],
        .available: review + [.decide(.granted), .orderProduction, .makeAvailable(at: .grenoble)],
        .handedOver: review + [.decide(.granted), .orderProduction, .makeAvailable(at: .grenoble), .handOver(at: .grenoble, appointmentId: nil)],
        .withdrawn: [.withdraw],
    ]
}()

private struct Transition: Sendable, CustomTestStringConvertible {
    var name: String
    var step: DossierStep
    /// The statuses it may leave from; from any other it must be refused.
    var allowedFrom: Set<DossierStatus>
    var testDescription: String { name }
}

private let open: Set<DossierStatus> = [.submitted, .incomplete, .complete, .underReview, .granted, .inProduction, .available]

private let transitions: [Transition] = [
    Transition(name: "request documents", step: .requestDocuments(["passport-copy"], dueBy: late.addingTimeInterval(86_400)), allowedFrom: [.submitted, .incomplete, .complete]),
    Transition(name: "receive documents", step: .receiveDocuments(["passport-copy"]), allowedFrom: [.submitted, .incomplete]),
    Transition(name: "declare complete", step: .declareComplete, allowedFrom: [.submitted, .incomplete]),
    Transition(name: "issue a provisional permit", step: .issueProvisionalPermit(.receipt, validFrom: late, validUntil: late.addingTimeInterval(90 * 86_400)), allowedFrom: [.complete, .underReview]),
    Transition(name: "capture biometrics", step: .captureBiometrics(at: .vienne, appointmentId: Sample.uuid(0xA9)), allowedFrom: [.complete, .underReview]),
    Transition(name: "request a consultation", step: .requestConsultation(Sample.uuid(0xC9), from: .labour), allowedFrom: [.complete, .underReview]),
    Transition(name: "grant", step: .decide(.granted), allowedFrom: [.underReview]),
    Transition(name: "refuse", step: .decide(.refused), allowedFrom: [.underReview]),
    Transition(name: "order production", step: .orderProduction, allowedFrom: [.granted]),
    Transition(name: "make available", step: .makeAvailable(at: .grenoble), allowedFrom: [.inProduction]),
    Transition(name: "hand over", step: .handOver(at: .grenoble, appointmentId: nil), allowedFrom: [.available]),
    Transition(name: "withdraw", step: .withdraw, allowedFrom: open),
    Transition(name: "close for no follow-up", step: .closeForNoFollowUp, allowedFrom: [.incomplete]),
    Transition(name: "reach the implicit-rejection deadline", step: .reachImplicitRejectionDeadline, allowedFrom: [.complete, .underReview]),
]

@Suite("Dossier lifecycle")
struct DossierLifecycleTests {
    @Test("each step is allowed exactly from the statuses of the lifecycle", arguments: transitions)
    fileprivate func transitionTable(_ transition: Transition) throws {
        for (status, path) in pathTo {
            let state = try dossier(after: path)
            #expect(state.status == status)
            let rule = rejection { try Decide.advance(state, by: transition.step, at: late) }
            if transition.allowedFrom.contains(status) {
                #expect(rule == nil, "\(transition.name) from \(status) was refused: \(String(describing: rule))")
            } else {
                #expect(rule != nil, "\(transition.name) from \(status) was allowed")
                if !status.isOpen { #expect(rule == .dossierClosed) }
            }
        }
    }

    @Test("the steps move the dossier to the documented statuses")
    func resultingStatuses() throws {
        #expect(try dossier(after: [.requestDocuments(["a"], dueBy: dueBy), .receiveDocuments(["a"])]).status == .incomplete)
        #expect(try dossier(after: [.requestDocuments(["a"], dueBy: dueBy), .declareComplete]).status == .complete)
        #expect(try dossier(after: [.declareComplete, .requestDocuments(["a"], dueBy: dueBy)]).status == .incomplete, "complete ⇄ incomplete")
        #expect(try dossier(after: [.declareComplete, .issueProvisionalPermit(.attestation, validFrom: start, validUntil: dueBy)]).status == .underReview)
        #expect(try dossier(after: [.declareComplete, .requestConsultation(Sample.uuid(0xC1), from: .ofii)]).status == .underReview)
        #expect(try dossier(after: [.requestDocuments(["a"], dueBy: start.addingTimeInterval(3600))]).documentsDueBy == start.addingTimeInterval(3600))
    }

    @Test("a dossier is submitted once, and nothing happens to one never submitted")
    func submission() throws {
        let state = try dossier(after: [])
        #expect(rejection { try Decide.submit(state, for: Sample.identity(1), category: .family, kind: .renewal, channel: .post, at: .vienne, on: late) } == .dossierAlreadySubmitted)
        #expect(rejection { try Decide.advance(DossierState(dossierId: Sample.uuid(0xD2)), by: .declareComplete, at: late) } == .dossierNotSubmitted)
    }

    @Test("the completion date that starts the legal clock is set once")
    func completionDateSetOnce() throws {
        let state = try dossier(after: [.declareComplete, .requestDocuments(["a"], dueBy: dueBy), .declareComplete])
        #expect(state.status == .complete)
        #expect(state.completedAt == start.addingTimeInterval(60))
    }

    @Test("a permit is available only after a grant, and handed over only once available")
    func permitOrder() throws {
        #expect(rejection { try Decide.advance(try dossier(after: [.declareComplete]), by: .makeAvailable(at: .grenoble), at: late) } == .permitAvailableBeforeGrant)
        #expect(rejection { try Decide.advance(try dossier(after: pathTo[.granted]!), by: .makeAvailable(at: .grenoble), at: late) } == .dossierInvalidTransition)
        #expect(rejection { try Decide.advance(try dossier(after: pathTo[.inProduction]!), by: .handOver(at: .grenoble, appointmentId: nil), at: late) } == .handoverBeforeAvailable)
        #expect(rejection { try Decide.advance(try dossier(after: pathTo[.underReview]!), by: .handOver(at: .grenoble, appointmentId: nil), at: late) } == .handoverBeforeAvailable)
    }

    @Test("an incomplete dossier is closed for no follow-up only once its deadline passed")
    func followUpDeadline() throws {
        let state = try dossier(after: pathTo[.incomplete]!)
        #expect(rejection { try Decide.advance(state, by: .closeForNoFollowUp, at: dueBy.addingTimeInterval(-1)) } == .followUpDeadlineNotReached)
        _ = try Decide.advance(state, by: .closeForNoFollowUp, at: dueBy)
    }

    @Test("the implicit-rejection flag is set four calendar months after completion, once, and the dossier goes on")
    func implicitRejection() throws {
        var journal = MemoryJournal()
        let id = Sample.uuid(0xD7)
        let completion = Sample.time("2024-10-31T10:00:00Z")
        try journal.append(try Decide.submit(DossierState(dossierId: id), for: Sample.identity(1), category: .family, kind: .first, channel: .counter, at: .vienne, on: completion))
        try journal.append(try Decide.advance(journal.dossier(id), by: .declareComplete, at: completion))
        #expect(journal.dossier(id).implicitRejectionDue() == Sample.time("2025-02-28T10:00:00Z"))
        #expect(rejection { try Decide.advance(journal.dossier(id), by: .reachImplicitRejectionDeadline, at: Sample.time("2025-02-28T09:59:59Z")) } == .implicitRejectionNotDue)
        try journal.append(try Decide.advance(journal.dossier(id), by: .reachImplicitRejectionDeadline, at: Sample.time("2025-02-28T10:00:00Z")))
        #expect(journal.dossier(id).isImplicitlyRejected)
        #expect(rejection { try Decide.advance(journal.dossier(id), by: .reachImplicitRejectionDeadline, at: late) } == .implicitRejectionAlreadyRecorded)
        try journal.append(try Decide.advance(journal.dossier(id), by: .captureBiometrics(at: .vienne, appointmentId: nil), at: Sample.time("2025-03-03T10:00:00Z")))
        try journal.append(try Decide.advance(journal.dossier(id), by: .decide(.granted), at: Sample.time("2025-03-04T10:00:00Z")))
        #expect(journal.dossier(id).status == .granted)
        #expect(journal.dossier(id).isImplicitlyRejected)
        #expect(journal.replay().violations == [])
    }

    @Test("a consultation is answered once, and only if it was requested")
    func consultations() throws {
        let state = try dossier(after: [.declareComplete, .requestConsultation(Sample.uuid(0xC1), from: .police)])
        #expect(state.pendingConsultations == [Sample.uuid(0xC1)])
        #expect(rejection { try Decide.advance(state, by: .answerConsultation(Sample.uuid(0xC2), outcome: .favourable), at: late) } == .consultationNotPending)
        #expect(rejection { try Decide.advance(state, by: .requestConsultation(Sample.uuid(0xC1), from: .mayor), at: late) } == .consultationAlreadyRequested)
        let answered = try dossier(after: [.declareComplete, .requestConsultation(Sample.uuid(0xC1), from: .police), .answerConsultation(Sample.uuid(0xC1), outcome: .noAnswer)])
        #expect(answered.pendingConsultations.isEmpty)
        #expect(rejection { try Decide.advance(answered, by: .answerConsultation(Sample.uuid(0xC1), outcome: .favourable), at: late) } == .consultationNotPending)
    }

    @Test("a decision cannot produce invalid data: an empty document list is refused as invalid")
    func invalidStepData() throws {
        #expect(rejection { try Decide.advance(try dossier(after: []), by: .requestDocuments([], dueBy: late), at: start) } == .invalidEvent)
        #expect(rejection { try Decide.advance(try dossier(after: []), by: .requestDocuments(["a"], dueBy: start), at: late) } == .invalidEvent)
    }
}
