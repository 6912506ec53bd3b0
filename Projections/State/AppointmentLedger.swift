import Foundation

/// Every appointment booked, with what the other projections need to attribute its later events:
/// its slot, the client that booked it, and the evidence ids of what happened to it.
public struct AppointmentLedger: Sendable, Codable, Equatable {
    enum Status: UInt8, Sendable, Codable { case active, cancelled, attended, noShow }

    struct Appointment: Sendable, Codable, Equatable {
        var id: UUID
        /// Index in `SlotAvailability.slots`; -1 when the slot was never published.
        var slot: Int32
        var client: Int32
        var status: Status
        var bookedAt: Int64
        var bookingEvent: UUID
        var sniped: Bool
        /// The applicant's cancellation that made this booking churn, if any.
        var churnEvent: UUID?
        var mismatchEvent: UUID?
    }

    var index = IndexTable()
    var appointments = EntityArray<Appointment>()
    /// Derived: not encoded, not compared (see `RecentPositions`).
    var recent = RecentPositions()

    enum CodingKeys: String, CodingKey { case index, appointments }

    public static func == (a: AppointmentLedger, b: AppointmentLedger) -> Bool { a.index == b.index && a.appointments == b.appointments }

    @inline(__always) func position(of id: UUID) -> Int32? {
        appointments.withUnsafeBufferPointer { a in index.find(id.fastHash) { a[Int($0)].id == id } }
    }

    /// `position(of:)` for the fold, which looks up the appointments of recent events first.
    @inline(__always) mutating func recentPosition(of id: UUID) -> Int32? {
        let hash = id.fastHash
        let found: Int32? = appointments.withUnsafeBufferPointer { a in
            if let p = recent.find(hash, { a[Int($0)].id == id }) { return p }
            return index.find(hash) { a[Int($0)].id == id }
        }
        if let found { recent.remember(hash, found) }
        return found
    }

    mutating func append(_ appointment: Appointment) {
        let hash = appointment.id.fastHash
        index.insert(hash, Int32(appointments.count))
        recent.remember(hash, Int32(appointments.count))
        appointments.append(appointment)
    }

    public init() {}

    public var count: Int { appointments.count }

    func inBookingOrder() -> EntityArray<Appointment> { appointments }
}

extension AppointmentLedger {
    /// What is wrong with the appointments and their index, or `nil`: the index finds every
    /// appointment, and each names a slot (or −1, a slot never published) and a client that exist.
    func inconsistency(slots: Int, clients: Int) -> String? {
        if let problem = appointments.withUnsafeBufferPointer({ a in index.inconsistency(entities: a.count) { a[$0].id.fastHash } }) {
            return "the appointment index: \(problem)"
        }
        if let repeated = firstRepeat(in: appointments, key: \.id) { return "appointment \(repeated) has the id of an earlier appointment" }
        for (i, a) in appointments.enumerated() {
            guard a.slot >= -1, Int(a.slot) < slots else { return "appointment \(i) names slot \(a.slot), but there are \(slots) slots" }
            guard a.client >= 0, Int(a.client) < clients else { return "appointment \(i) names fingerprint \(a.client), but there are \(clients) fingerprints" }
            guard BusinessTime.contains(a.bookedAt) else { return "appointment \(i): its booking time (\(a.bookedAt) ms) is not a time the catalogue can spell" }
        }
        return nil
    }
}
