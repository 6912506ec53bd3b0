import Foundation
import Domain

extension SimulationEngine {
    // MARK: Days and arrivals

    /// Schedules a day's arrivals and its release, if it has one.
    func startDay(_ dayStart: Double) {
        schedule(.day(dayStart + ParisTime.day), at: dayStart + ParisTime.day)
        let day = Date(timeIntervalSince1970: dayStart)
        let civil = ParisTime.civil(day)
        for (index, category) in Category.allCases.enumerated() {
            let mean = arrivalsPerDay(category, month: civil.month, year: civil.year)
            for _ in 0..<random.poisson(mean) {
                schedule(.arrival(index), at: max(now, dayStart + random.uniform(6 * 3600...21 * 3600)))
            }
        }
        let weekday = ParisTime.weekday(day)
        let inSeason = profile.studentSeasonMonths.contains(civil.month)
        if profile.releaseDays.contains(weekday) || (inSeason && profile.seasonReleaseDays.contains(weekday)) {
            schedule(.release, at: ParisTime.instant(on: day, hour: profile.releaseHour).timeIntervalSince1970)
        }
    }

    /// The mean number of dossiers of `category` starting on one day of `month`.
    func arrivalsPerDay(_ category: Category, month: Int, year: Int) -> Double {
        let weights = profile.monthlyWeights[category] ?? Array(repeating: 1, count: 12)
        var weightedDays = 0.0
        for m in 1...12 {
            weightedDays += weights[m - 1] * Double(daysIn(month: m, year: year))
        }
        let annual = profile.dossiersPerYear * profile.scale * (profile.categoryShares[category] ?? 0)
        return weightedDays > 0 ? annual * weights[month - 1] / weightedDays : 0
    }

    private func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: Releases

    /// Publishes the places of the days newly opened for booking, sized on the demand the service
    /// sees, then lets the waiting applicants (and, on a storm, the bots) at them.
    func release() {
        tally.releases += 1
        #if DEBUG
        // The pools' free places are the sum of their live slots' (what sizes the release below);
        // a leak in that bookkeeping would publish too few or too many. Checked in debug builds,
        // which the simulator's tests run.
        var counted = [Int](repeating: 0, count: pools.count)
        for entry in slots.values { counted[entry.pool] += max(0, entry.placesForThePublic) }
        for i in pools.indices {
            precondition(pools[i].freePlaces == counted[i], "pool \(i) counts \(pools[i].freePlaces) free places, its slots make \(counted[i])")
        }
        #endif
        let elapsedDays = lastReleaseTime.map { max(0.5, (now - $0) / ParisTime.day) } ?? 3.5
        for index in pools.indices {
            let observed = Double(pools[index].needsSinceRelease) / elapsedDays
            pools[index].needsPerDay = lastReleaseTime == nil ? observed : 0.7 * pools[index].needsPerDay + 0.3 * observed
            pools[index].needsSinceRelease = 0
            compactWaiting(index)
        }
        lastReleaseTime = now
        let releaseId = random.uuid()
        let (publications, newHorizon) = planPublications(releaseId: releaseId, at: now, random: &random)
        horizon = newHorizon
        var published: [Int] = []
        for publication in publications {
            let ref = newReference()
            let pool = Pool.index(publication.site, publication.motif, publication.category)
            slots[ref] = SlotEntry(state: SlotState(site: publication.site, slotId: publication.slotId), pool: pool, start: publication.start.timeIntervalSince1970)
            guard let plan = emit({ () throws(Rejection) in try Decide.publish(publication, onto: slots[ref]!.state) }) else { continue }
            slots[ref]!.state.apply(plan.events[0].event)
            pools[pool].free.push(start: slots[ref]!.start, slot: ref)
            pools[pool].freePlaces += publication.capacity
            schedule(.slotStarts(ref), at: slots[ref]!.start)
            if random.chance(profile.slotWithdrawalRate) {
                let at = slots[ref]!.start - random.uniform(1...4) * ParisTime.day
                if at > now + 3600 { schedule(.withdrawSlot(ref), at: at) }
            }
            published.append(ref)
        }
        let month = ParisTime.civil(date).month
        if !published.isEmpty, profile.stormMonths.contains(month), random.chance(profile.stormShare) { startStorm(on: published) }
        for index in pools.indices {
            for person in pools[index].waiting {
                guard let generation = people[person]?.generation else { continue }
                // Most watch the release; some only look later in the day.
                let delay = random.chance(0.8) ? random.logNormal(median: 45, sigma: 1.0) : random.exponential(mean: 6 * 3600)
                schedule(.attempt(person: person, generation: generation, afterRelease: true), after: delay)
            }
        }
    }

    /// Drops the applicants who no longer wait in this pool, keeping the others in order, once each.
    func compactWaiting(_ index: Int) {
        var seen = Set<Int>()
        pools[index].waiting = pools[index].waiting.filter { ref in
            guard let person = people[ref], isWaiting(person, in: index) else { return false }
            return seen.insert(ref).inserted
        }
    }

    func isWaiting(_ person: Person, in pool: Int) -> Bool {
        guard let need = person.need, person.held == nil, person.boughtFromBot == nil, person.dossierIsOpen else { return false }
        return Pool.index(person.site, need, person.category) == pool
    }

    /// The slots of one release: for each pool, enough places for those waiting and the demand
    /// expected until the new horizon, with a margin, less the places still free.
    func planPublications(releaseId: UUID, at time: Double, random: inout SeededRandom) -> ([SlotPublished], Double) {
        let releaseDay = ParisTime.dayStart(Date(timeIntervalSince1970: time)).timeIntervalSince1970
        let from = max(horizon, releaseDay + 2 * ParisTime.day)
        let to = releaseDay + Double(profile.bookingHorizonDays) * ParisTime.day
        var days: [Double] = []
        var day = from
        while day < to {
            if ParisTime.isWorkingDay(Date(timeIntervalSince1970: day)) { days.append(day) }
            day += ParisTime.day
        }
        guard !days.isEmpty else { return ([], max(horizon, to)) }
        let coveredDays = (to - from) / ParisTime.day
        var publications: [SlotPublished] = []
        let releaseDate = Date(timeIntervalSince1970: time)
        for (index, pool) in pools.enumerated() {
            let waiting = pools[index].waiting.count
            let wanted = (Double(waiting) + pool.needsPerDay * coveredDays) * (1 + profile.supplyMargin)
            let places = Int(wanted.rounded(.up)) - pool.freePlaces
            guard places > 0 else { continue }
            let capacity = pool.motif == .biometrics ? 2 : 1
            let slotCount = (places + capacity - 1) / capacity
            for n in 0..<slotCount {
                let dayStart = Date(timeIntervalSince1970: days[n % days.count])
                let perDay = n / days.count
                // 20-minute slots from 08:30 to 16:10, Paris time; more slots open more counters.
                let minute = 8 * 60 + 30 + (perDay % 23) * 20
                let start = ParisTime.instant(on: dayStart, hour: minute / 60, minute: minute % 60)
                let counter = "guichet \(Pool.motifIndex(pool.motif) * 10 + perDay / 23 + 1)"
                publications.append(SlotPublished(
                    slotId: random.uuid(), site: pool.site, motif: pool.motif, category: pool.category, start: start,
                    durationMinutes: 20, counter: counter, capacity: capacity, releaseId: releaseId, occurredAt: releaseDate
                ))
            }
        }
        return (publications, to)
    }

    /// The release that would follow the simulated period, planned on the demand left at its end.
    func plannedNextRelease() -> PlannedRelease? {
        // Sized on who is really waiting, as `release()` does: the lists also hold people who
        // booked since the last release, and repeats (the history is over, so this changes nothing in it).
        for index in pools.indices { compactWaiting(index) }
        var copy = random
        var day = ParisTime.dayStart(Date(timeIntervalSince1970: max(now, endTime))).timeIntervalSince1970
        for _ in 0..<14 {
            let date = Date(timeIntervalSince1970: day)
            let month = ParisTime.civil(date).month
            let weekday = ParisTime.weekday(date)
            if profile.releaseDays.contains(weekday) || (profile.studentSeasonMonths.contains(month) && profile.seasonReleaseDays.contains(weekday)) {
                let time = ParisTime.instant(on: date, hour: profile.releaseHour).timeIntervalSince1970
                if time >= endTime {
                    let releaseId = copy.uuid()
                    let (publications, _) = planPublications(releaseId: releaseId, at: time, random: &copy)
                    let count = min(botFingerprints.count, max(1, profile.botFingerprintsPerStorm.upperBound))
                    return PlannedRelease(releaseId: releaseId, time: Date(timeIntervalSince1970: time), publications: publications,
                                          botFingerprints: Array(botFingerprints.prefix(count)))
                }
            }
            day += ParisTime.day
        }
        return nil
    }

    /// A slot's start: what was not booked is lost, and its state is no longer needed.
    func slotStarts(_ ref: Int) {
        guard let entry = slots[ref] else { return }
        pools[entry.pool].freePlaces -= max(0, entry.placesForThePublic)
        slots[ref] = nil
    }
}
