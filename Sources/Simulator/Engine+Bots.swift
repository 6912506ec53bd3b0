import Foundation
import Domain

/// Bot storms: a few client fingerprints take most places of a release within seconds, under many
/// identity keys, then resell them.
extension SimulationEngine {
    func startStorm(on published: [Int]) {
        tally.storms += 1
        var indices = Array(botFingerprints.indices)
        let wanted = min(indices.count, random.integer(profile.botFingerprintsPerStorm))
        for i in 0..<wanted { indices.swapAt(i, i + random.index(indices.count - i)) }
        let chosen = Array(indices.prefix(wanted))
        let share = random.uniform(profile.botTakeShare)
        for ref in published {
            guard let entry = slots[ref] else { continue }
            for _ in 0..<entry.state.freePlaces where random.chance(share) {
                schedule(.botBooks(slot: ref, fingerprint: chosen[random.index(chosen.count)]), after: random.uniform(0.3...12))
            }
        }
        // Their scripts hammer the booking page far beyond what they win.
        for fingerprint in chosen {
            addEvidence(botFingerprints[fingerprint], rule: .slotCapacityExceeded, count: random.integer(40...400))
        }
    }

    func botBooks(_ slot: Int, _ fingerprint: Int) {
        guard var entry = slots[slot], entry.placesForThePublic > 0, entry.start > now + Self.hour, let publication = entry.state.publication else {
            addEvidence(botFingerprints[fingerprint], rule: .slotCapacityExceeded, count: random.integer(1...20))
            return
        }
        let identity = random.identityKey()
        var applicant = ApplicantState(identityKey: identity)
        let appointmentId = random.uuid()
        guard let plan = emit({ () throws(Rejection) in
            try Decide.book(appointmentId, in: entry.state, for: applicant, from: botFingerprints[fingerprint], at: date)
        }) else { return }
        let event = plan.events[0].event
        entry.state.apply(event)
        applicant.apply(event)
        let ref = newReference()
        entry.holders.append((appointmentId, .bot(ref)))
        slots[slot] = entry
        pools[entry.pool].freePlaces -= 1
        tally.botBookings += 1

        var fate = BotFate.allCases[random.weighted(BotFate.allCases.map { profile.botFates[$0] ?? 0 })]
        let start = entry.start
        switch fate {
        case .resoldByRebooking:
            let latest = min(start - rules.applicantCancellationCutOff - 120, now + 5 * Self.dayLength)
            if latest > now + Self.hour { schedule(.botFate(bot: ref), at: random.uniform((now + Self.hour)...latest)) } else { fate = .unsold }
        case .resoldAsIs:
            let latest = min(start - Self.hour, now + 3 * Self.dayLength)
            if latest > now + 1800 { schedule(.botFate(bot: ref), at: random.uniform((now + 1800)...latest)) } else { fate = .unsold }
        case .cancelledForFraud:
            let latest = start - 2 * Self.hour
            if latest > now + Self.dayLength { schedule(.botFate(bot: ref), at: random.uniform((now + Self.dayLength)...latest)) } else { fate = .unsold }
        case .unsold:
            break
        }
        bots[ref] = BotBooking(identity: identity, applicant: applicant, fingerprint: fingerprint, slot: slot,
                               appointmentId: appointmentId, motif: publication.motif, fate: fate)
        schedule(.botAppointmentDue(bot: ref), at: start + random.uniform(0...300))
    }

    /// The first applicant still waiting in the pool: the bot's customer.
    func firstBuyer(in pool: Int) -> Int? {
        for ref in pools[pool].waiting {
            if let person = people[ref], isWaiting(person, in: pool) { return ref }
        }
        return nil
    }

    func botFate(_ ref: Int) {
        guard var bot = bots[ref], var entry = slots[bot.slot] else { return }
        switch bot.fate {
        case .resoldByRebooking:
            guard let buyer = firstBuyer(in: entry.pool) else {
                bot.fate = .unsold
                bots[ref] = bot
                return
            }
            guard let plan = emit({ () throws(Rejection) in
                try Decide.cancelByApplicant(bot.appointmentId, of: bot.applicant, in: entry.state, at: date, rules: rules)
            }) else { return }
            let event = plan.events[0].event
            entry.state.apply(event)
            bot.applicant.apply(event)
            entry.holders.removeAll { $0.appointmentId == bot.appointmentId }
            entry.reserved += 1
            slots[bot.slot] = entry
            bot.buyer = buyer
            bots[ref] = bot
            people[buyer]!.boughtFromBot = ref
            people[buyer]!.generation += 1
            schedule(.botRebooksForBuyer(bot: ref), after: random.uniform(1...4))
        case .resoldAsIs:
            guard let buyer = firstBuyer(in: entry.pool) else {
                bot.fate = .unsold
                bots[ref] = bot
                return
            }
            bot.buyer = buyer
            bots[ref] = bot
            people[buyer]!.boughtFromBot = ref
            people[buyer]!.need = nil
            people[buyer]!.generation += 1
        case .cancelledForFraud:
            guard let plan = emit({ () throws(Rejection) in
                try Decide.cancelByService(bot.appointmentId, of: bot.applicant, in: entry.state, because: .fraud, at: date)
            }) else { return }
            entry.state.apply(plan.events[0].event)
            entry.holders.removeAll { $0.appointmentId == bot.appointmentId }
            slots[bot.slot] = entry
            bots[ref] = nil
            freePlace(in: bot.slot)
        case .unsold:
            break
        }
    }

    /// The second half of a resale: the slot the bot just freed is booked at once under the buyer's identity.
    func botRebooksForBuyer(_ ref: Int) {
        guard let bot = bots[ref], let buyer = bot.buyer else { return }
        bots[ref] = nil
        guard var entry = slots[bot.slot] else { return }
        entry.reserved -= 1
        slots[bot.slot] = entry
        guard var person = people[buyer], person.boughtFromBot == ref, person.dossierIsOpen, let need = person.need else {
            freePlace(in: bot.slot)
            if people[buyer]?.boughtFromBot == ref { people[buyer]!.boughtFromBot = nil }
            return
        }
        let appointmentId = random.uuid()
        guard let plan = emit({ () throws(Rejection) in
            try Decide.book(appointmentId, in: entry.state, for: person.applicant, from: botFingerprints[bot.fingerprint], at: date)
        }) else {
            freePlace(in: bot.slot)
            people[buyer]!.boughtFromBot = nil
            return
        }
        let event = plan.events[0].event
        entry.state.apply(event)
        entry.holders.append((appointmentId, .person(buyer)))
        person.applicant.apply(event)
        person.held = HeldAppointment(appointmentId: appointmentId, slot: bot.slot, motif: need)
        person.need = nil
        person.boughtFromBot = nil
        person.generation += 1
        slots[bot.slot] = entry
        people[buyer] = person
        tally.resoldByRebooking += 1
        planFollowUps(buyer, start: entry.start)
    }

    /// The bot's appointment: the buyer of a slot resold as is shows up and fails the identity
    /// check; an unsold slot is a no-show.
    func botAppointmentDue(_ ref: Int) {
        guard var bot = bots[ref] else { return }
        bots[ref] = nil
        if let buyer = bot.buyer, let person = people[buyer], person.boughtFromBot == ref {
            guard let plan = emit({ () throws(Rejection) in
                try Decide.checkIn(bot.appointmentId, of: bot.applicant, presenting: person.identity, at: date)
            }) else { return }
            for planned in plan.events { bot.applicant.apply(planned.event) }
            people[buyer]!.boughtFromBot = nil
            needAppointment(buyer, bot.motif, after: random.uniform(Self.hour...(2 * Self.dayLength)))
            retireIfDone(buyer)
        } else {
            emit { () throws(Rejection) in try Decide.recordNoShow(bot.appointmentId, of: bot.applicant, at: date) }
        }
    }

    /// A bot's booking cancelled by the service: whoever bought it as is must book again.
    func releaseBuyer(of bot: BotBooking) {
        guard let buyer = bot.buyer, let person = people[buyer], person.boughtFromBot != nil else { return }
        people[buyer]!.boughtFromBot = nil
        if person.held == nil { needAppointment(buyer, bot.motif, after: random.uniform(Self.hour...Self.dayLength)) }
    }

    // MARK: Evidence

    /// Counts refused booking attempts per fingerprint and minute; they are recorded once the minute is over.
    func addEvidence(_ fingerprint: Fingerprint, rule: RuleName, count: Int) {
        let minute = (now / 60).rounded(.down) * 60
        if pendingEvidence[minute] == nil {
            pendingEvidence[minute] = []
            schedule(.flushEvidence(minute: minute), at: minute + 60)
        }
        if let index = pendingEvidence[minute]!.firstIndex(where: { $0.fingerprint == fingerprint && $0.rule == rule }) {
            pendingEvidence[minute]![index].count += count
        } else {
            pendingEvidence[minute]!.append((fingerprint, rule, count))
        }
    }

    func flushEvidence(_ minute: Double) {
        guard let entries = pendingEvidence.removeValue(forKey: minute) else { return }
        let minuteDate = Date(timeIntervalSince1970: minute)
        for entry in entries {
            let count = min(entry.count, 1_000_000)
            emit { () throws(Rejection) in
                try Decide.recordEvidence(.bookingAttemptsRejected(BookingAttemptsRejected(
                    fingerprint: entry.fingerprint, minute: minuteDate, rule: entry.rule, count: count, occurredAt: date)))
            }
            if count > 60 {
                emit { () throws(Rejection) in
                    try Decide.recordEvidence(.rateLimitTriggered(RateLimitTriggered(
                        fingerprint: entry.fingerprint, windowSeconds: 60, limit: 60, observed: count, occurredAt: date)))
                }
            }
        }
    }
}
