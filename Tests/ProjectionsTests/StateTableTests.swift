import Domain
import Foundation
import Testing
@testable import Projections

@Suite("Calendar table")
struct CalendarTableTests {
    @Test("values by day and category agree with a dictionary, across many weeks, before and after 1970")
    func agreesWithDictionary() {
        var table = CalendarTable<Int>()
        var model: [Int32: [Domain.Category: Int]] = [:]
        var rng = SystemRandomNumberGenerator()
        let categories = Domain.Category.allCases
        for n in 0..<20_000 {
            // A moving window of days, and now and then one far away or before the epoch.
            let day: Int32 = n % 97 == 0 ? Int32.random(in: -40_000...80_000, using: &rng) : Int32(n / 20) + Int32.random(in: 0..<400, using: &rng)
            let category = categories.randomElement(using: &rng)!
            let added = Int.random(in: -3...3, using: &rng)
            let after = table.update(day: day, category: category, default: 0) { (value: inout Int) -> Int in
                value += added
                return value
            }
            model[day, default: [:]][category, default: 0] += added
            #expect(after == model[day]![category]!)
        }
        var keys = 0
        table.forEachKey { day, category in
            keys += 1
            #expect(table[day, category] == model[day]?[category])
        }
        #expect(keys == model.values.reduce(0) { $0 + $1.count })
        #expect(table.count == keys)
        for day in Int32(-50)...Int32(50) {
            for category in categories { #expect(table[day, category] == model[day]?[category]) }
        }
    }

    @Test("weeks start on the right day, also for negative day numbers")
    func weeks() {
        for day in Int32(-30)...Int32(30) {
            let (week, offset) = CalendarTable<Int>.week(of: day)
            #expect((0..<7).contains(offset))
            #expect(week * 7 + Int32(offset) == day)
        }
    }

    @Test("a value never updated is absent, even in a week that holds others; the state survives a coding round trip")
    func presence() throws {
        var table = CalendarTable<Int>()
        let c = Domain.Category.allCases
        table.update(day: 10, category: c[0], default: 5) { $0 += 1 }
        #expect(table[10, c[0]] == 6)
        #expect(table[10, c[1]] == nil)
        #expect(table[11, c[0]] == nil)
        #expect(table[-10, c[0]] == nil)
        let data = try JSONEncoder().encode(table)
        #expect(try JSONDecoder().decode(CalendarTable<Int>.self, from: data) == table)
    }
}

@Suite("Recent positions")
struct RecentPositionsTests {
    @Test("the fold's remembered lookups agree with the index, through growth, colliding slots and a coding round trip")
    func ledgerLookups() throws {
        var ledger = AppointmentLedger()
        var ids: [UUID] = []
        // Far more appointments than the 4,096 remembered slots, so slots are shared and overwritten.
        for n in 0..<20_000 {
            let id = UUID()
            ids.append(id)
            ledger.append(.init(id: id, slot: Int32(n), client: 0, status: .active, bookedAt: Int64(n), bookingEvent: id, sniped: false, churnEvent: nil, mismatchEvent: nil))
            if n % 7 == 0 {
                let back = ids[Int.random(in: 0..<ids.count)]
                let remembered = ledger.recentPosition(of: back)
                #expect(remembered == ledger.position(of: back))
            }
        }
        for (n, id) in ids.enumerated().shuffled() {
            let first = ledger.recentPosition(of: id), second = ledger.recentPosition(of: id)
            #expect(first == Int32(n))
            #expect(second == Int32(n), "a remembered one, asked again")
        }
        for _ in 0..<1000 {
            let unknown = ledger.recentPosition(of: UUID())
            #expect(unknown == nil)
        }
        // Remembered slots are not state: a decoded ledger equals the original and finds the same positions.
        let decoded = try JSONDecoder().decode(AppointmentLedger.self, from: JSONEncoder().encode(ledger))
        #expect(decoded == ledger)
        var again = decoded
        for (n, id) in ids.enumerated().prefix(3000) {
            let found = again.recentPosition(of: id)
            #expect(found == Int32(n))
        }
    }

    @Test("dossier steps find their dossier whether or not it is remembered")
    func dossierSteps() {
        var board = DossierBoard()
        let ids = (0..<10_000).map { _ in UUID() }
        let c = Domain.Category.allCases[0]
        for (n, id) in ids.enumerated() {
            let added = board.submit(id, category: c, kind: .first, channel: .online, site: .grenoble, at: Int64(n) * 1000, position: UInt64(n))
            #expect(added)
        }
        for (n, id) in ids.enumerated().reversed() {
            let after = board.step(id, kind: .documentsReceived, decision: nil, at: Int64(n) * 1000 + 1, position: UInt64(20_000 + n))
            #expect(after != nil)
        }
        let unknown = board.step(UUID(), kind: .documentsReceived, decision: nil, at: 0, position: 0)
        #expect(unknown == nil)
        #expect(ids.allSatisfy { board.dossier(id: $0)?.steps == 2 })
    }
}

@Suite("Abuse signals: first bookings")
struct FirstBookingTests {
    @Test("distinct identities and new-to-release answers match sets, whether a client books once, twice or often")
    func againstSets() {
        var rng = SystemRandomNumberGenerator()
        let identities = (0..<4).map { n in HashKey(w0: UInt64(n), w1: 7, w2: 0, w3: UInt64(n) << 60) }
        for _ in 0..<300 {
            var signals = AbuseSignals()
            var modelIdentities: [Int32: Set<HashKey>] = [:]
            var modelReleases: Set<UInt64> = []
            let clients = (0..<5).map { n in signals.client(HashKey(w0: 99, w1: UInt64(n), w2: 0, w3: 0), at: 0) }
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let client = clients.randomElement(using: &rng)!
                let identity = identities.randomElement(using: &rng)!
                let release: Int32? = Bool.random(using: &rng) ? nil : Int32.random(in: 0..<3, using: &rng)
                let isNew = signals.booked(client: client, identity: identity, release: release, sniped: false)
                modelIdentities[client, default: []].insert(identity)
                let expectedNew = release.map { modelReleases.insert(UInt64($0) << 32 | UInt64(client)).inserted } ?? false
                #expect(isNew == expectedNew)
                #expect(Int(signals.clients[Int(client)].distinctIdentities) == modelIdentities[client]!.count)
            }
        }
    }
}
