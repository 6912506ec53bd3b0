import Domain
import Foundation
import Testing
@testable import Projections

@Suite("Fast tables")
struct FastTableTests {
    @Test("ordinal is the declaration index of every enum the projections key by")
    func ordinals() {
        func check<T: CaseIterable & Equatable>(_ type: T.Type) {
            for (k, value) in T.allCases.enumerated() { #expect(Int(ordinal(value)) == k, "\(T.self).\(value)") }
        }
        check(Site.self)
        check(Domain.Category.self)
        check(DossierStatus.self)
        check(DelayMeasure.self)
        check(Motif.self)
    }

    @Test("a key table finds every key it holds and no other, through growth and colliding low bits")
    func keyTable() {
        var table = KeyTable<UInt64>()
        // Multiples of a large power of two share their low bits: only the mix spreads them.
        let keys = (0..<5000).map { UInt64($0) << 40 }
        for (k, key) in keys.enumerated() {
            #expect(table.insert(key) == (true, Int32(k)))
            #expect(table.insert(key) == (false, Int32(k)))
        }
        #expect(table.count == keys.count)
        for (k, key) in keys.enumerated() { #expect(table.ordinal(of: key) == Int32(k)) }
        for k in 0..<5000 { #expect(table.ordinal(of: UInt64(k) << 40 | 1) == nil) }
    }

    @Test("a fast map keeps one value per key, in insertion order")
    func fastMap() {
        var map = FastMap<UUID, Int>()
        let ids = (0..<300).map { Sample.uuid($0) }
        for round in 0..<3 {
            for id in ids { map.update(id, default: 0) { $0 += round + 1 } }
        }
        #expect(map.count == 300)
        #expect(map.keys == ids)
        #expect(ids.allSatisfy { map[$0] == 6 })
        #expect(map[Sample.uuid(300)] == nil)
    }

    @Test("group ordinals hold one ordinal per group and tag, for the enums the folds group by")
    func groupOrdinals() {
        for count in [Site.allCases.count, Domain.Category.allCases.count, DossierStatus.allCases.count, DelayMeasure.allCases.count] {
            #expect(count < 16)
        }
        var cache = GroupOrdinals()
        let a = GroupOrdinals.group(1, 2, 3), b = GroupOrdinals.group(3, 2, 1)
        #expect(a != b)
        #expect(cache.ordinal(a, tag: 0) == nil)
        cache.remember(a, tag: 0, ordinal: 0)
        cache.remember(b, tag: 7, ordinal: 41)
        #expect(cache.ordinal(a, tag: 0) == 0)
        #expect(cache.ordinal(a, tag: 1) == nil)
        #expect(cache.ordinal(b, tag: 7) == 41)
        // A new tag replaces the group's ordinal.
        cache.remember(b, tag: 8, ordinal: 42)
        #expect(cache.ordinal(b, tag: 7) == nil)
        #expect(cache.ordinal(b, tag: 8) == 42)
        #expect(cache.ordinal(GroupOrdinals.group(15, 15, 15), tag: UInt32.max) == nil)
    }

    @Test("the delay samples reached through group ordinals are those of keyed updates, across a decoded state")
    func groupedUpdatesAgreeWithKeyedOnes() throws {
        var delays = DelayStatistics()
        var keyed = FastMap<DelayStatistics.Key, [Int64]>()
        let day: Int64 = 86_400_000
        for k in 0..<2000 {
            let measure = DelayMeasure.allCases[k % 3], category = Domain.Category.allCases[(k / 3) % Domain.Category.allCases.count]
            let site = Site.allCases[(k / 7) % Site.allCases.count]
            let start = Int64(k / 50) * 20 * day
            delays.record(measure, category: category, site: site, from: start, to: start + Int64(k) * 1000)
            let month = CivilCalendar.monthIndex(ofMillis: start)
            keyed.update(.init(measure: measure, category: category, site: site, month: month), default: []) { $0.append(Int64(k) * 1000) }
            if k == 1000 {
                var bytes: [UInt8] = []
                try BinaryCoder.encode(delays, into: &bytes)
                delays = try bytes.withUnsafeBytes { try BinaryCoder.decode(DelayStatistics.self, from: $0) }
            }
        }
        #expect(delays.samples == keyed)
    }

    @Test("every catalogue type name is recognised, and near misses are not")
    func eventKindNames() {
        func kind(_ name: String) -> EventKind? { Array(name.utf8).withUnsafeBytes { EventKind.named($0) } }
        for k in EventKind.allCases { #expect(kind(k.typeName) == k) }
        for miss in ["", "Slot", "slotPublished", "SlotPublishedX", "XSlotPublished", "SlotPublishe", "AppointmentBookeD", "DossierWithdrawm"] {
            #expect(kind(miss) == nil, "\(miss)")
        }
    }
}
