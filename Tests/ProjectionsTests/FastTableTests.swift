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

    @Test("every catalogue type name is recognised, and near misses are not")
    func eventKindNames() {
        func kind(_ name: String) -> EventKind? { Array(name.utf8).withUnsafeBytes { EventKind.named($0) } }
        for k in EventKind.allCases { #expect(kind(k.typeName) == k) }
        for miss in ["", "Slot", "slotPublished", "SlotPublishedX", "XSlotPublished", "SlotPublishe", "AppointmentBookeD", "DossierWithdrawm"] {
            #expect(kind(miss) == nil, "\(miss)")
        }
    }
}
