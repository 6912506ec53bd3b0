import Foundation
import Domain

/// How genuine applicants book, cancel, take back, move and keep their appointments.
extension SimulationEngine {
    static let hour = 3600.0
    static let dayLength = 86_400.0

    /// The applicant now needs an appointment for `motif`; they look for a place after `delay`.
    func needAppointment(_ ref: Int, _ motif: Motif, after delay: Double) {
        guard var person = people[ref], person.dossierIsOpen else { return }
        let pool = Pool.index(person.site, motif, person.category)
        person.need = motif
        person.generation += 1
        people[ref] = person
        pools[pool].needsSinceRelease += 1
        pools[pool].waiting.append(ref)
        schedule(.attempt(person: ref, generation: person.generation, afterRelease: false), after: delay)
    }

    /// Looks for the earliest place in the applicant's pool; after a release, a miss is a refused
    /// booking attempt, recorded as evidence for their fingerprint.
    func attempt(_ ref: Int, _ generation: Int, afterRelease: Bool) {
        guard let person = people[ref], person.generation == generation, let need = person.need,
              person.held == nil, person.boughtFromBot == nil, person.dossierIsOpen else { return }
        let pool = Pool.index(person.site, need, person.category)
        if let slot = takeFreeSlot(pool, startingAfter: now + Self.hour) {
            book(ref, into: slot)
        } else if afterRelease {
            addEvidence(person.fingerprint, rule: .slotCapacityExceeded, count: random.integer(1...4))
        }
    }

    /// The earliest slot of the pool with a free place starting after `earliest`, without taking it.
    func takeFreeSlot(_ pool: Int, startingAfter earliest: Double, excluding excluded: Int? = nil) -> Int? {
        // Entries no caller can use any more (full, withdrawn, or starting within the hour every
        // booking needs) leave the heap; those only this caller cannot use (a reschedule wants a
        // day ahead, and not the applicant's own slot) are set aside and put back, so they stay
        // for the others.
        var setAside: [(start: Double, slot: Int)] = []
        defer { for e in setAside { pools[pool].free.push(start: e.start, slot: e.slot) } }
        while let top = pools[pool].free.first {
            guard let entry = slots[top.slot], entry.start > now + Self.hour, entry.placesForThePublic > 0, !entry.state.isWithdrawn else {
                pools[pool].free.popFirst()
                continue
            }
            if entry.start <= earliest || top.slot == excluded {
                setAside.append(top)
                pools[pool].free.popFirst()
                continue
            }
            return top.slot
        }
        return nil
    }

    func book(_ ref: Int, into slot: Int) {
        guard var person = people[ref], let need = person.need, var entry = slots[slot] else { return }
        let appointmentId = random.uuid()
        guard let plan = emit({ () throws(Rejection) in
            try Decide.book(appointmentId, in: entry.state, for: person.applicant, from: person.fingerprint, at: date)
        }) else { return }
        let event = plan.events[0].event
        entry.state.apply(event)
        entry.holders.append((appointmentId, .person(ref)))
        person.applicant.apply(event)
        person.held = HeldAppointment(appointmentId: appointmentId, slot: slot, motif: need)
        person.need = nil
        person.generation += 1
        slots[slot] = entry
        people[ref] = person
        pools[entry.pool].freePlaces -= 1
        planFollowUps(ref, start: entry.start)
    }

    /// Decides now what the applicant will do with the appointment: cancel, move, or come (or not).
    func planFollowUps(_ ref: Int, start: Double) {
        guard let generation = people[ref]?.generation else { return }
        let latestChange = start - rules.applicantCancellationCutOff - 60
        let draw = random.unit()
        if latestChange > now + 600 {
            if draw < profile.applicantCancellationRate {
                schedule(.applicantCancels(person: ref, generation: generation), at: random.uniform((now + 600)...latestChange))
            } else if draw < profile.applicantCancellationRate + profile.rescheduleRate {
                schedule(.reschedule(person: ref, generation: generation), at: random.uniform((now + 600)...latestChange))
            }
        }
        schedule(.appointmentDue(person: ref, generation: generation), at: start + random.uniform(0...300))
    }

    func applicantCancels(_ ref: Int, _ generation: Int) {
        guard var person = people[ref], person.generation == generation, let held = person.held, var entry = slots[held.slot] else { return }
        guard let plan = emit({ () throws(Rejection) in
            try Decide.cancelByApplicant(held.appointmentId, of: person.applicant, in: entry.state, at: date, rules: rules)
        }) else { return }
        let event = plan.events[0].event
        entry.state.apply(event)
        entry.holders.removeAll { $0.appointmentId == held.appointmentId }
        person.applicant.apply(event)
        person.held = nil
        person.cancelled = held
        person.generation += 1
        slots[held.slot] = entry
        people[ref] = person
        freePlace(in: held.slot)
        if random.chance(profile.reinstatementShare) {
            schedule(.reinstate(person: ref, generation: person.generation), after: random.uniform(300...(4 * Self.hour)))
        } else {
            people[ref]!.cancelled = nil
            needAppointment(ref, held.motif, after: random.uniform(Self.hour...(3 * Self.dayLength)))
        }
    }

    /// A place given back to the public.
    func freePlace(in slot: Int) {
        guard let entry = slots[slot] else { return }
        pools[entry.pool].freePlaces += 1
        pools[entry.pool].free.push(start: entry.start, slot: slot)
    }

    /// The applicant changes their mind and takes the cancelled appointment back, if its place is still free.
    func reinstate(_ ref: Int, _ generation: Int) {
        guard var person = people[ref], person.generation == generation, let cancelled = person.cancelled else { return }
        person.cancelled = nil
        people[ref] = person
        guard var entry = slots[cancelled.slot], entry.placesForThePublic > 0, entry.start > now + 60, person.dossierIsOpen else {
            needAppointment(ref, cancelled.motif, after: random.uniform(600...Self.dayLength))
            return
        }
        guard let plan = emit({ () throws(Rejection) in
            try Decide.reinstate(cancelled.appointmentId, of: person.applicant, in: entry.state, at: date)
        }) else {
            needAppointment(ref, cancelled.motif, after: 600)
            return
        }
        let event = plan.events[0].event
        entry.state.apply(event)
        entry.holders.append((cancelled.appointmentId, .person(ref)))
        person.applicant.apply(event)
        person.held = cancelled
        person.generation += 1
        slots[cancelled.slot] = entry
        people[ref] = person
        pools[entry.pool].freePlaces -= 1
        schedule(.appointmentDue(person: ref, generation: person.generation), at: entry.start + random.uniform(0...300))
    }

    /// Moves the appointment to the earliest other free place of the same pool, at least a day ahead.
    func reschedule(_ ref: Int, _ generation: Int) {
        guard var person = people[ref], person.generation == generation, let held = person.held, var from = slots[held.slot] else { return }
        guard let target = takeFreeSlot(from.pool, startingAfter: now + Self.dayLength, excluding: held.slot), var to = slots[target] else {
            // Nothing else free: they keep the appointment they have.
            schedule(.appointmentDue(person: ref, generation: generation), at: from.start + random.uniform(0...300))
            return
        }
        guard let plan = emit({ () throws(Rejection) in
            try Decide.reschedule(held.appointmentId, of: person.applicant, from: from.state, to: to.state, at: date, rules: rules)
        }) else { return }
        let event = plan.events[0].event
        from.state.apply(event)
        to.state.apply(event)
        person.applicant.apply(event)
        from.holders.removeAll { $0.appointmentId == held.appointmentId }
        to.holders.append((held.appointmentId, .person(ref)))
        person.held?.slot = target
        person.generation += 1
        slots[held.slot] = from
        slots[target] = to
        people[ref] = person
        pools[to.pool].freePlaces -= 1
        freePlace(in: held.slot)
        schedule(.appointmentDue(person: ref, generation: person.generation), at: to.start + random.uniform(0...300))
    }

    /// The appointment's time: the applicant comes and shows their identity, or does not come.
    func appointmentDue(_ ref: Int, _ generation: Int) {
        guard var person = people[ref], person.generation == generation, let held = person.held else { return }
        let comes = person.dossierIsOpen && !random.chance(profile.noShowRate)
        let planned = emit { () throws(Rejection) in
            comes ? try Decide.checkIn(held.appointmentId, of: person.applicant, presenting: person.identity, at: date)
                  : try Decide.recordNoShow(held.appointmentId, of: person.applicant, at: date)
        }
        guard let plan = planned else { return }
        for planned in plan.events { person.applicant.apply(planned.event) }
        person.held = nil
        person.generation += 1
        people[ref] = person
        guard comes else {
            needAppointment(ref, held.motif, after: random.uniform(Self.hour...(5 * Self.dayLength)))
            retireIfDone(ref)
            return
        }
        attended(ref, held)
    }

    /// What the visit was for.
    func attended(_ ref: Int, _ held: HeldAppointment) {
        guard let person = people[ref] else { return }
        switch held.motif {
        case .filing:
            schedule(.dossier(person: ref, step: .submit), after: random.uniform(300...1800))
        case .completion:
            advance(ref, .receiveDocuments(Self.documents(for: person.category, random: &random, count: 2)))
            schedule(.dossier(person: ref, step: .declareComplete), after: random.uniform(600...(3 * Self.dayLength)))
        case .biometrics:
            if advance(ref, .captureBiometrics(at: person.site, appointmentId: held.appointmentId)) {
                people[ref]?.biometricsCaptured = true
            }
        case .handover:
            advance(ref, .handOver(at: person.site, appointmentId: held.appointmentId))
            retireIfDone(ref)
        }
    }

    /// Forgets an applicant whose dossier is over and who holds nothing more.
    func retireIfDone(_ ref: Int) {
        guard let person = people[ref], !person.dossierIsOpen, person.held == nil, person.boughtFromBot == nil else { return }
        people[ref] = nil
    }

    /// Cancels a slot's bookings for the service, then withdraws it (a counter closed for the day).
    func withdrawSlot(_ ref: Int) {
        guard var entry = slots[ref], entry.reserved == 0, entry.start > now else { return }
        // The places the pool counts as free are those before the holders' cancellations: theirs
        // were never given back to it.
        let freeBefore = max(0, entry.placesForThePublic)
        for holding in entry.holders {
            switch holding.holder {
            case .person(let personRef):
                guard var person = people[personRef], person.held?.appointmentId == holding.appointmentId else { continue }
                guard let plan = emit({ () throws(Rejection) in
                    try Decide.cancelByService(holding.appointmentId, of: person.applicant, in: entry.state, because: .slotWithdrawn, at: date)
                }) else { continue }
                entry.state.apply(plan.events[0].event)
                person.applicant.apply(plan.events[0].event)
                let motif = person.held!.motif
                person.held = nil
                person.generation += 1
                people[personRef] = person
                needAppointment(personRef, motif, after: random.uniform(Self.hour...Self.dayLength))
            case .bot(let botRef):
                guard let bot = bots[botRef] else { continue }
                guard let plan = emit({ () throws(Rejection) in
                    try Decide.cancelByService(holding.appointmentId, of: bot.applicant, in: entry.state, because: .slotWithdrawn, at: date)
                }) else { continue }
                entry.state.apply(plan.events[0].event)
                releaseBuyer(of: bot)
                bots[botRef] = nil
            }
        }
        entry.holders.removeAll()
        guard let plan = emit({ () throws(Rejection) in try Decide.withdraw(entry.state, because: .staffShortage, at: date) }) else {
            slots[ref] = entry
            return
        }
        entry.state.apply(plan.events[0].event)
        pools[entry.pool].freePlaces -= freeBefore
        slots[ref] = nil
    }

    static let documentNames: [Category: [String]] = [
        .student: ["enrolment-certificate", "proof-of-resources", "proof-of-address", "passport-copy"],
        .worker: ["employment-contract", "work-authorisation", "payslips", "proof-of-address"],
        .family: ["marriage-certificate", "birth-certificates", "proof-of-community-of-life", "proof-of-address"],
        .visitor: ["proof-of-resources", "health-insurance", "proof-of-address"],
        .humanitarian: ["ofpra-decision", "medical-report", "proof-of-address"],
        .other: ["proof-of-address", "passport-copy", "tax-notice"],
    ]

    static func documents(for category: Category, random: inout SeededRandom, count: Int) -> [String] {
        let names = documentNames[category] ?? ["proof-of-address"]
        let first = random.index(names.count)
        return (0..<min(count, names.count)).map { names[(first + $0) % names.count] }
    }
}
