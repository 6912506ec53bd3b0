import Foundation
import Testing
@testable import Domain

/// The replay's aggregate table must behave as the dictionaries it replaced: every key finds its
/// own state, however the keys hash.
@Suite("Aggregate table")
struct AggregateTableTests {
    @Test("a hundred thousand random ids each find their own state, across every growth")
    func randomIDs() {
        var table = AggregateTable<UUID, Int>()
        let ids = (0..<100_000).map { _ in UUID() }
        for (n, id) in ids.enumerated() {
            #expect(table[id] == nil)
            table.update(id, default: { n }) { $0 += 0 }
        }
        #expect(table.count == ids.count)
        for (n, id) in ids.enumerated() where table[id] != n { Issue.record("id \(n) lost its state") }
        // Updating an existing key changes that state only, and makes no new one.
        table.update(ids[7], default: { -1 }) { $0 += 1_000_000 }
        #expect(table[ids[7]] == 1_000_007)
        #expect(table[ids[8]] == 8)
        #expect(table.count == ids.count)
        #expect(table[UUID()] == nil)
    }

    /// Keys whose words are all equal: equality alone tells them apart, at the cost of long probes.
    struct Colliding: AggregateTableKey {
        var id: Int
        var tableWords: (UInt64, UInt64) { (42, 42) }
    }

    @Test("keys that hash alike are still told apart by equality")
    func collidingKeys() {
        var table = AggregateTable<Colliding, String>()
        for id in 0..<600 { table.update(Colliding(id: id), default: { "state \(id)" }) { _ in } }
        #expect(table.count == 600)
        for id in 0..<600 where table[Colliding(id: id)] != "state \(id)" { Issue.record("key \(id) found another state") }
        #expect(table[Colliding(id: 600)] == nil)
    }

    @Test("identity keys and fingerprints of the same hash are different tables' business, and hashes differing in one word differ")
    func hashKeys() throws {
        let a = try #require(Hash256(hex: String(repeating: "0", count: 63) + "1"))
        let b = try #require(Hash256(hex: "1" + String(repeating: "0", count: 63)))
        var table = AggregateTable<IdentityKey, Int>()
        table.update(IdentityKey(a), default: { 1 }) { _ in }
        table.update(IdentityKey(b), default: { 2 }) { _ in }
        #expect(table[IdentityKey(a)] == 1)
        #expect(table[IdentityKey(b)] == 2)
        #expect(table.count == 2)
    }
}
