import Domain
import Foundation

/// Slots per site, motif, category and day: published, booked, free and withdrawn places, and
/// how fast each release ran out.
public struct SlotAvailability: Sendable, Codable, Equatable {
    struct Slot: Sendable, Codable, Equatable {
        var ref: SlotRef
        var motif: Motif
        var category: Domain.Category
        var start: Int64
        var capacity: Int32
        /// Appointments currently holding a place; may exceed capacity only in a journal that broke the rules.
        var booked: Int32
        var withdrawnAt: Int64?
        var release: Int32
        var publishedAt: Int64
        var publishedPosition: UInt64

        var free: Int32 { withdrawnAt == nil ? max(0, capacity - booked) : 0 }
    }

    struct Release: Sendable, Codable, Equatable {
        var id: UUID
        var site: Site
        var openedAt: Int64
        var slots: Int32 = 0
        /// Places of its slots that are not withdrawn.
        var places: Int32 = 0
        var booked: Int32 = 0
        var bookings: Int32 = 0
        var exhaustedAt: Int64?
        var distinctFingerprints: Int32 = 0
    }

    /// Slots of one site and category published for one day, so that a date-range query reads
    /// only the days it asks for.
    struct DayBucket: FastKey {
        var site: Site
        var category: Domain.Category
        var day: Int32

        var fastHash: UInt64 { mix64(UInt64(UInt32(bitPattern: day)) << 16 | UInt64(ordinal(site)) << 8 | UInt64(ordinal(category))) }
    }

    var slotIndex = IndexTable()
    var slots = EntityArray<Slot>()
    var byDay = FastMap<DayBucket, [Int32]>()
    var releaseIndex = IndexTable()
    var releases = EntityArray<Release>()
    /// Derived: `byDay`'s ordinals by site and category, for the last day of each (a release
    /// publishes a day's slots one after the other). Not encoded, not compared.
    var dayOrdinals = GroupOrdinals()

    enum CodingKeys: String, CodingKey { case slotIndex, slots, byDay, releaseIndex, releases }

    public static func == (a: SlotAvailability, b: SlotAvailability) -> Bool {
        a.slotIndex == b.slotIndex && a.slots == b.slots && a.byDay == b.byDay && a.releaseIndex == b.releaseIndex && a.releases == b.releases
    }

    @inline(__always) func slot(_ ref: SlotRef) -> Int32? {
        slots.withUnsafeBufferPointer { s in slotIndex.find(ref.fastHash) { s[Int($0)].ref == ref } }
    }

    @inline(__always) func release(_ id: UUID) -> Int32? {
        releases.withUnsafeBufferPointer { r in releaseIndex.find(id.fastHash) { r[Int($0)].id == id } }
    }

    public init() {}

    // MARK: Fold

    /// Returns the slot's index, or `nil` when the slot was already published (the fold ignores a second publication).
    mutating func publish(_ ref: SlotRef, motif: Motif, category: Domain.Category, start: Int64, capacity: Int, release id: UUID, at: Int64, position: UInt64) -> Int32? {
        guard slot(ref) == nil else { return nil }
        let release: Int32
        if let known = self.release(id) {
            release = known
            releases[Int(known)].openedAt = min(releases[Int(known)].openedAt, at)
        } else {
            release = Int32(releases.count)
            releaseIndex.insert(id.fastHash, release)
            releases.append(Release(id: id, site: ref.site, openedAt: at))
        }
        releases[Int(release)].slots += 1
        releases[Int(release)].places += Int32(capacity)
        let index = Int32(slots.count)
        slots.append(Slot(ref: ref, motif: motif, category: category, start: start, capacity: Int32(capacity), booked: 0,
                          withdrawnAt: nil, release: release, publishedAt: at, publishedPosition: position))
        slotIndex.insert(ref.fastHash, index)
        let day = CivilCalendar.day(ofMillis: start)
        let group = GroupOrdinals.group(ordinal(ref.site), ordinal(category), 0)
        let o: Int32
        if let known = dayOrdinals.ordinal(group, tag: UInt32(bitPattern: day)) {
            o = known
        } else {
            o = byDay.ordinal(inserting: DayBucket(site: ref.site, category: category, day: day), default: [])
            dayOrdinals.remember(group, tag: UInt32(bitPattern: day), ordinal: o)
        }
        byDay.update(at: o) { $0.append(index) }
        return index
    }

    mutating func withdraw(_ index: Int32, at: Int64) {
        let i = Int(index)
        guard slots[i].withdrawnAt == nil else { return }
        slots[i].withdrawnAt = at
        let r = Int(slots[i].release)
        releases[r].places -= slots[i].capacity
        // Withdrawing a slot with free places can leave every remaining place of the release booked.
        noteExhaustion(of: r, at: at)
    }

    /// A place taken (booking, reinstatement, reschedule into the slot).
    mutating func take(_ index: Int32, at: Int64, isNewBooking: Bool) {
        let i = Int(index)
        slots[i].booked += 1
        let r = Int(slots[i].release)
        releases[r].booked += 1
        if isNewBooking { releases[r].bookings += 1 }
        noteExhaustion(of: r, at: at)
    }

    /// A release runs out the first time every place of its slots not withdrawn is booked,
    /// whether a place was taken or a slot with free places withdrawn.
    private mutating func noteExhaustion(of r: Int, at: Int64) {
        if releases[r].exhaustedAt == nil, releases[r].places > 0, releases[r].booked >= releases[r].places {
            releases[r].exhaustedAt = at
        }
    }

    /// A place given back (cancellation, reschedule out of the slot).
    mutating func free(_ index: Int32) {
        let i = Int(index)
        slots[i].booked -= 1
        releases[Int(slots[i].release)].booked -= 1
    }

    // MARK: Queries

    /// Slots of `site` and `category` starting in `[from, to)` that still have a free place, by start time.
    public func freeSlots(site: Site, category: Domain.Category, from: Date, to: Date) -> [FreeSlot] {
        let lower = Millis.of(from), upper = Millis.of(to)
        guard lower < upper else { return [] }
        var out: [FreeSlot] = []
        var day = CivilCalendar.day(ofMillis: lower)
        let lastDay = CivilCalendar.day(ofMillis: upper - 1)
        while day <= lastDay {
            for index in byDay[DayBucket(site: site, category: category, day: day)] ?? [] {
                let slot = slots[Int(index)]
                if slot.start >= lower, slot.start < upper, slot.free > 0 { out.append(FreeSlot(slot, releases[Int(slot.release)].id)) }
            }
            day += 1
        }
        return out.sorted { ($0.start, $0.slotId.uuidString) < ($1.start, $1.slotId.uuidString) }
    }

    /// Per site, motif, category and day of the slots' start: what was published and what is left.
    public func days(site: Site? = nil, category: Domain.Category? = nil) -> [SlotDay] {
        struct Key: Hashable { var site: Site; var motif: Motif; var category: Domain.Category; var day: Int32 }
        var groups: [Key: SlotDay] = [:]
        for slot in slots where (site == nil || slot.ref.site == site) && (category == nil || slot.category == category) {
            let day = CivilCalendar.day(ofMillis: slot.start)
            let key = Key(site: slot.ref.site, motif: slot.motif, category: slot.category, day: day)
            var row = groups[key] ?? SlotDay(site: key.site, motif: key.motif, category: key.category, day: CivilCalendar.dayString(day))
            row.slotsPublished += 1
            if slot.withdrawnAt != nil {
                row.slotsWithdrawn += 1
            } else {
                row.placesOffered += Int(slot.capacity)
                row.placesBooked += Int(slot.booked)
                row.placesFree += Int(slot.free)
            }
            groups[key] = row
        }
        return groups.values.sorted { ($0.day, $0.site.rawValue, $0.motif.rawValue, $0.category.rawValue) < ($1.day, $1.site.rawValue, $1.motif.rawValue, $1.category.rawValue) }
    }

    /// Every release, in the order it first appeared.
    public func releaseSummaries() -> [ReleaseSummary] { releases.map(ReleaseSummary.init) }

    /// Every slot, in the order of publication.
    public func allSlots() -> [FreeSlot] { slots.map { FreeSlot($0, releases[Int($0.release)].id) } }
}

extension SlotAvailability {
    /// What is wrong with the slots, the releases and their indexes, or `nil` (see
    /// `ProjectionSet.firstInconsistency()`): the indexes find every slot and release, each slot
    /// names a release and sits in the day bucket of its start, and each release's totals are those
    /// of its slots. `position` is the number of events folded.
    func inconsistency(eventsFolded position: UInt64) -> String? {
        if let problem = slots.withUnsafeBufferPointer({ s in slotIndex.inconsistency(entities: s.count) { s[$0].ref.fastHash } }) {
            return "the slot index: \(problem)"
        }
        if let repeated = firstRepeat(in: slots, key: \.ref) { return "slot \(repeated) has the id of an earlier slot" }
        if let problem = releases.withUnsafeBufferPointer({ r in releaseIndex.inconsistency(entities: r.count) { r[$0].id.fastHash } }) {
            return "the release index: \(problem)"
        }
        if let repeated = firstRepeat(in: releases, key: \.id) { return "release \(repeated) has the id of an earlier release" }
        struct Totals { var slots = 0, places = 0, booked = 0; var openedAt = Int64.max; var site: Site? = nil }
        var totals = [Totals](repeating: Totals(), count: releases.count)
        for (i, slot) in slots.enumerated() {
            guard slot.release >= 0, Int(slot.release) < releases.count else {
                return "slot \(i) names release \(slot.release), but there are \(releases.count) releases"
            }
            // The catalogue's range of capacities (`SlotPublished`).
            guard (1...500).contains(slot.capacity) else { return "slot \(i) has a capacity of \(slot.capacity)" }
            if let problem = BusinessTime.outside(["start": slot.start, "publication time": slot.publishedAt, "withdrawal time": slot.withdrawnAt]) {
                return "slot \(i): \(problem)"
            }
            guard slot.publishedPosition < position else { return "slot \(i) was published at position \(slot.publishedPosition), after the \(position) events folded" }
            var t = totals[Int(slot.release)]
            t.slots += 1
            if slot.withdrawnAt == nil { t.places += Int(slot.capacity) }
            t.booked += Int(slot.booked)
            t.openedAt = min(t.openedAt, slot.publishedAt)
            if t.site == nil { t.site = slot.ref.site }
            totals[Int(slot.release)] = t
        }
        for (r, release) in releases.enumerated() {
            let t = totals[r]
            guard t.slots > 0 else { return "release \(r) has no slot" }
            guard Int(release.slots) == t.slots, Int(release.places) == t.places, Int(release.booked) == t.booked else {
                return "release \(r) counts \(release.slots) slots, \(release.places) places and \(release.booked) booked; its slots make \(t.slots), \(t.places) and \(t.booked)"
            }
            guard release.openedAt == t.openedAt, release.site == t.site else {
                return "release \(r) opened at \(release.openedAt) ms at \(release.site.rawValue); its first slot was published at \(t.openedAt) ms at \(t.site!.rawValue)"
            }
            guard BusinessTime.contains(release.exhaustedAt) else { return "release \(r): its exhaustion time is not a time the catalogue can spell" }
            guard release.bookings >= 0, release.distinctFingerprints >= 0 else { return "release \(r) counts \(release.bookings) bookings and \(release.distinctFingerprints) fingerprints" }
        }
        // Every slot in exactly one day bucket, the one of its site, category and start.
        if let problem = byDay.inconsistency() { return "the slots by day: \(problem)" }
        var filed = [Bool](repeating: false, count: slots.count)
        for (bucket, indexes) in byDay.entries {
            guard !indexes.isEmpty else { return "the slots by day hold an empty day (\(bucket.day))" }
            for index in indexes {
                guard index >= 0, Int(index) < slots.count else { return "the slots by day name slot \(index), but there are \(slots.count) slots" }
                guard !filed[Int(index)] else { return "the slots by day list slot \(index) twice" }
                filed[Int(index)] = true
                let slot = slots[Int(index)]
                guard slot.ref.site == bucket.site, slot.category == bucket.category, CivilCalendar.day(ofMillis: slot.start) == bucket.day else {
                    return "the slots by day list slot \(index) under another site, category or day than its own"
                }
            }
        }
        if let missing = filed.firstIndex(of: false) { return "the slots by day do not list slot \(missing)" }
        return nil
    }
}

/// One slot and what is left of it.
public struct FreeSlot: Sendable, Codable, Equatable {
    public var slotId: UUID
    public var site: Site
    public var motif: Motif
    public var category: Domain.Category
    public var start: Date
    public var capacity: Int
    public var booked: Int
    public var free: Int
    public var withdrawn: Bool
    public var releaseId: UUID
    public var publishedAt: Date

    init(_ slot: SlotAvailability.Slot, _ release: UUID) {
        slotId = slot.ref.slotId
        site = slot.ref.site
        motif = slot.motif
        category = slot.category
        start = Millis.date(slot.start)
        capacity = Int(slot.capacity)
        booked = Int(slot.booked)
        free = Int(slot.free)
        withdrawn = slot.withdrawnAt != nil
        releaseId = release
        publishedAt = Millis.date(slot.publishedAt)
    }
}

/// Slots of one site, motif and category for one day (UTC) of their start.
public struct SlotDay: Sendable, Codable, Equatable {
    public var site: Site
    public var motif: Motif
    public var category: Domain.Category
    /// `YYYY-MM-DD`.
    public var day: String
    public var slotsPublished = 0
    public var slotsWithdrawn = 0
    /// Capacity of the slots not withdrawn.
    public var placesOffered = 0
    public var placesBooked = 0
    public var placesFree = 0
}

/// One release of slots and how fast it ran out.
public struct ReleaseSummary: Sendable, Codable, Equatable {
    public var releaseId: UUID
    public var site: Site
    /// The earliest publication of the release.
    public var openedAt: Date
    public var slots: Int
    public var places: Int
    public var placesBooked: Int
    public var bookings: Int
    /// The first moment every place not withdrawn was booked; `nil` if that never happened.
    public var exhaustedAt: Date?
    public var secondsToExhaustion: Double?
    public var distinctFingerprints: Int

    init(_ r: SlotAvailability.Release) {
        releaseId = r.id
        site = r.site
        openedAt = Millis.date(r.openedAt)
        slots = Int(r.slots)
        places = Int(r.places)
        placesBooked = Int(r.booked)
        bookings = Int(r.bookings)
        exhaustedAt = r.exhaustedAt.map(Millis.date)
        secondsToExhaustion = r.exhaustedAt.map { Double($0 - r.openedAt) / 1000 }
        distinctFingerprints = Int(r.distinctFingerprints)
    }
}
