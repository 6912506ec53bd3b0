import Foundation
import Domain

/// The dossier's life: filing, completeness, review, decision, the card and its handover.
extension SimulationEngine {
    static let monthLength = 30.436875 * 86_400

    func arrive(_ category: Category) {
        let identity = random.identityKey()
        let fingerprint = random.fingerprint()
        let siteShares = profile.siteShares[category] ?? [.grenoble: 1]
        let site = Site.allCases[random.weighted(Site.allCases.map { siteShares[$0] ?? 0 })]
        let kind: DossierKind = [.first, .renewal, .change][random.weighted([0.45, 0.45, 0.10])]
        let draw = random.unit()
        let channel: FilingChannel = draw < profile.counterFilingShare ? .counter
            : draw < profile.counterFilingShare + profile.postFilingShare ? .post : .online
        let ref = newReference()
        tally.arrivals += 1
        people[ref] = Person(identity: identity, fingerprint: fingerprint, category: category, site: site, kind: kind,
                             channel: channel, dossierId: random.uuid())
        if channel == .counter {
            needAppointment(ref, .filing, after: random.uniform(600...(2 * Self.dayLength)))
        } else {
            advanceDossier(ref, .submit)
        }
    }

    /// Plans one step with the domain and applies it to the dossier; false if the domain refused it.
    @discardableResult
    func advance(_ ref: Int, _ step: DossierStep) -> Bool {
        guard let dossier = people[ref]?.dossier else { return false }
        guard let plan = emit({ () throws(Rejection) in try Decide.advance(dossier, by: step, at: date, rules: rules) }) else { return false }
        people[ref]!.dossier.apply(plan.events[0].event)
        return true
    }

    func advanceDossier(_ ref: Int, _ action: DossierAction) {
        guard let person = people[ref] else { return }
        if case .submit = action {
            guard person.dossier.status == nil else { return }
        } else {
            guard person.dossierIsOpen, person.dossier.status != nil else { return }
        }
        let day = Self.dayLength
        switch action {
        case .submit:
            let dossier = person.dossier
            guard let plan = emit({ () throws(Rejection) in
                try Decide.submit(dossier, for: person.identity, category: person.category, kind: person.kind,
                                  channel: person.channel, at: person.site, on: date)
            }) else { return }
            people[ref]!.dossier.apply(plan.events[0].event)
            if random.chance(profile.incompleteShare) {
                schedule(.dossier(person: ref, step: .requestDocuments), after: random.uniform((2 * day)...(20 * day)))
            } else {
                schedule(.dossier(person: ref, step: .declareComplete), after: random.uniform(day...(14 * day)))
            }

        case .requestDocuments:
            let dueBy = ParisTime.dayStart(date).addingTimeInterval(31 * day)
            let documents = Self.documents(for: person.category, random: &random, count: random.integer(1...3))
            guard advance(ref, .requestDocuments(documents, dueBy: dueBy)) else { return }
            let draw = random.unit()
            if draw < profile.closedForNoFollowUpShare {
                schedule(.dossier(person: ref, step: .closeForNoFollowUp), at: dueBy.timeIntervalSince1970 + random.uniform(day...(10 * day)))
            } else if draw < profile.closedForNoFollowUpShare + profile.withdrawalShare {
                schedule(.dossier(person: ref, step: .withdraw), after: random.uniform((3 * day)...(25 * day)))
            } else if random.chance(profile.completionAtCounterShare) {
                needAppointment(ref, .completion, after: random.uniform(day...(10 * day)))
            } else {
                schedule(.dossier(person: ref, step: .receiveDocumentsOnline), after: random.uniform((5 * day)...(28 * day)))
            }

        case .receiveDocumentsOnline:
            guard advance(ref, .receiveDocuments(Self.documents(for: person.category, random: &random, count: 2))) else { return }
            schedule(.dossier(person: ref, step: .declareComplete), after: random.uniform((day / 2)...(5 * day)))

        case .declareComplete:
            guard person.dossier.status == .submitted || person.dossier.status == .incomplete else { return }
            guard advance(ref, .declareComplete) else { return }
            planReview(ref)

        case .issueProvisionalPermit:
            guard !person.decisionRecorded, person.dossier.status == .complete || person.dossier.status == .underReview else { return }
            let months = person.category == .family || person.category == .humanitarian ? 6 : 3
            let until = UTCTime.adding(months: months, to: date)
            let kind: ProvisionalPermitKind = person.kind == .renewal ? .attestation : .receipt
            guard advance(ref, .issueProvisionalPermit(kind, validFrom: date, validUntil: until)) else { return }
            // Renewed before it runs out, for as long as the review lasts.
            schedule(.dossier(person: ref, step: .issueProvisionalPermit), at: until.timeIntervalSince1970 - random.uniform((7 * day)...(20 * day)))

        case .requestConsultation:
            guard !person.decisionRecorded else { return }
            let consultationId = random.uuid()
            let authority = Self.authority(for: person.category, random: &random)
            guard advance(ref, .requestConsultation(consultationId, from: authority)) else { return }
            people[ref]!.pendingConsultations.append(consultationId)
            schedule(.dossier(person: ref, step: .answerConsultation(people[ref]!.pendingConsultations.count - 1)),
                     after: random.uniform((10 * day)...(40 * day)))

        case .answerConsultation(let index):
            guard index < person.pendingConsultations.count else { return }
            let consultationId = person.pendingConsultations[index]
            let draw = random.unit()
            let outcome: ConsultationOutcome = draw < 0.9 ? .favourable : draw < 0.95 ? .unfavourable : .noAnswer
            guard advance(ref, .answerConsultation(consultationId, outcome: outcome)) else { return }

        case .reachImplicitRejection:
            reachImplicitRejectionIfDue(ref)

        case .decide:
            decide(ref)

        case .orderProduction:
            guard advance(ref, .orderProduction) else { return }

        case .makeAvailable:
            guard advance(ref, .makeAvailable(at: person.site)) else { return }
            needAppointment(ref, .handover, after: random.uniform(day...(10 * day)))

        case .withdraw:
            guard !person.decisionRecorded, advance(ref, .withdraw) else { return }
            people[ref]!.need = nil
            retireIfDone(ref)

        case .closeForNoFollowUp:
            guard person.dossier.status == .incomplete else { return }
            guard advance(ref, .closeForNoFollowUp) else { return }
            people[ref]!.need = nil
            retireIfDone(ref)
        }
    }

    /// From the first completion, draws the delay to the permit (log-normal around the category's
    /// median) and plans the review so that the card is available then.
    func planReview(_ ref: Int) {
        guard var person = people[ref], person.completedAt == nil else { return }
        let day = Self.dayLength
        let median = (profile.medianMonthsToPermit[person.category] ?? 4) * Self.monthLength
        let delay = random.logNormal(median: median, sigma: profile.delaySpread)
        person.completedAt = now
        person.targetAvailable = now + delay
        person.willBeRefused = random.chance(profile.refusalRate[person.category] ?? 0.1)
        people[ref] = person
        schedule(.dossier(person: ref, step: .issueProvisionalPermit), after: random.uniform(0...(3 * day)))
        needAppointment(ref, .biometrics, after: random.uniform((day / 2)...(7 * day)))
        if random.chance(profile.consultationRate[person.category] ?? 0) {
            schedule(.dossier(person: ref, step: .requestConsultation), after: random.uniform((3 * day)...(20 * day)))
        }
        if random.chance(0.01) {
            schedule(.dossier(person: ref, step: .withdraw), after: random.uniform((10 * day)...max(11 * day, delay)))
        }
        let production = random.uniform(profile.productionDays) * day + random.uniform(0...(3 * day))
        let decisionAt = max(now + delay - production, now + 10 * day)
        schedule(.dossier(person: ref, step: .decide), at: decisionAt)
        let due = implicitRejectionDue(ref)
        if decisionAt > due { schedule(.dossier(person: ref, step: .reachImplicitRejection), at: due + random.uniform(0...(2 * day))) }
    }

    func implicitRejectionDue(_ ref: Int) -> Double {
        guard let completed = people[ref]?.completedAt else { return .infinity }
        return UTCTime.adding(months: rules.implicitRejectionMonths, to: Date(timeIntervalSince1970: completed)).timeIntervalSince1970
    }

    func reachImplicitRejectionIfDue(_ ref: Int) {
        guard let person = people[ref], !person.decisionRecorded, !person.dossier.isImplicitlyRejected, now >= implicitRejectionDue(ref) else { return }
        advance(ref, .reachImplicitRejectionDeadline)
    }

    /// Decides once the biometrics are taken and every consultation answered; otherwise looks again in a few days.
    func decide(_ ref: Int) {
        guard let person = people[ref], !person.decisionRecorded else { return }
        let day = Self.dayLength
        guard person.dossier.status == .underReview, person.biometricsCaptured, person.pendingConsultations.allSatisfy({ !isPending($0, of: person) }) else {
            schedule(.dossier(person: ref, step: .decide), after: random.uniform((2 * day)...(5 * day)))
            return
        }
        reachImplicitRejectionIfDue(ref)
        let outcome: DecisionOutcome = person.willBeRefused ? .refused : .granted
        guard advance(ref, .decide(outcome)) else { return }
        people[ref]!.decisionRecorded = true
        people[ref]!.need = nil
        guard outcome == .granted else {
            retireIfDone(ref)
            return
        }
        let lag = random.uniform(0...(3 * day))
        let production = random.uniform(profile.productionDays) * day
        schedule(.dossier(person: ref, step: .orderProduction), after: lag)
        schedule(.dossier(person: ref, step: .makeAvailable), at: max(person.targetAvailable, now + lag + production))
    }

    private func isPending(_ consultationId: UUID, of person: Person) -> Bool {
        person.dossier.pendingConsultations.contains(consultationId)
    }

    static func authority(for category: Category, random: inout SeededRandom) -> ConsultationAuthority {
        switch category {
        case .worker: .labour
        case .family: random.chance(0.5) ? .mayor : .ofii
        case .humanitarian: random.chance(0.6) ? .ofii : .police
        case .student: .police
        default: random.chance(0.5) ? .police : .other
        }
    }
}
