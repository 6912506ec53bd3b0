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
    var appointments: [Appointment] = []

    @inline(__always) func position(of id: UUID) -> Int32? {
        appointments.withUnsafeBufferPointer { a in index.find(id.fastHash) { a[Int($0)].id == id } }
    }

    mutating func append(_ appointment: Appointment) {
        index.insert(appointment.id.fastHash, Int32(appointments.count))
        appointments.append(appointment)
    }

    public init() {}

    public var count: Int { appointments.count }

    func inBookingOrder() -> [Appointment] { appointments }
}
