import Crypto
import Foundation

extension AppointmentBooked {
    /// The id of this booking's copy in `home` (its slot's stream or its applicant's), derived
    /// from the appointment id alone, or nil for any other stream.
    ///
    /// Why derived: the slot and the applicant streams each guard their own rules, and neither
    /// sees the other bookings of the prefecture, so nothing in them stops one appointment id from
    /// being booked again by another applicant in another slot (the audit reports it afterwards
    /// as `appointment.idReused`). With the ids fixed by the appointment id, a second booking of
    /// the same id proposes event ids the journal already holds in other streams, and the
    /// journal's idempotency refuses it atomically; the very same booking sent again is a retry
    /// and gets the original answer. The derivation is public (a SHA-256 name-based UUID,
    /// version 8), so any client can compute it, and its input is the role of the stream rather
    /// than its name: a name would differ between the two bookings and let the second through.
    public func eventID(in home: StreamName) -> UUID? {
        Self.eventID(appointmentId: appointmentId, in: home)
    }

    /// The same, from the appointment id alone: what a client computes to send a booking with
    /// its ids, so that sending it again is a retry.
    public static func eventID(appointmentId: UUID, in home: StreamName) -> UUID? {
        switch home.kind {
        case .slot: eventID(appointmentId: appointmentId, role: 1)
        case .applicant: eventID(appointmentId: appointmentId, role: 2)
        case .dossier, .fingerprint: nil
        }
    }

    /// The ids of both copies of the booking of `appointmentId` (slot's, then applicant's),
    /// wherever they are: to learn whether that appointment id was booked at all.
    public static func eventIDs(appointmentId: UUID) -> [UUID] {
        [eventID(appointmentId: appointmentId, role: 1), eventID(appointmentId: appointmentId, role: 2)]
    }

    private static func eventID(appointmentId: UUID, role: UInt8) -> UUID {
        var input = Array("registre/AppointmentBooked/v1".utf8)
        input.append(0)
        input.append(role)
        withUnsafeBytes(of: appointmentId.uuid) { input.append(contentsOf: $0) }
        return NameBasedUUID.make(from: input)
    }
}

/// UUIDs derived from a name: the first 16 bytes of its SHA-256, marked version 8 (custom, here
/// name-based on SHA-256) with the RFC 9562 variant. docs/EVENTS.md gives the inputs.
enum NameBasedUUID {
    static func make(from input: [UInt8]) -> UUID {
        var bytes = Array(SHA256.hash(data: input).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

/// The ids of what a command appends when its client names it with a `commandId`, so that the
/// command sent again after a lost answer is recognised (its events are in the journal under
/// these ids) and answered with the original result instead of being judged a second time.
public enum CommandEventID {
    /// The id of the `index`-th event (from 0) appended by command `commandId`.
    public static func eventID(commandId: UUID, index: Int) -> UUID {
        var input = Array("registre/command/v1".utf8)
        input.append(0)
        withUnsafeBytes(of: commandId.uuid) { input.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(index).bigEndian) { input.append(contentsOf: $0) }
        return NameBasedUUID.make(from: input)
    }

    /// What a command said, as one value: the SHA-256 (lowercase hex) of its fields, sorted by
    /// name, each as its name, a zero byte, its value's length (4 bytes big-endian) and value.
    /// Kept in the metadata of the events a command with a `commandId` appends, so that the same
    /// id sent again with other fields (a client bug, or a key reused for another intention) is
    /// told apart from a retry, as Stripe compares the parameters of a reused idempotency key.
    public static func fieldsDigest(_ fields: [(name: String, value: [UInt8])]) -> String {
        var input = Array("registre/command-fields/v1".utf8)
        input.append(0)
        for (name, value) in fields.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            input.append(contentsOf: name.utf8)
            input.append(0)
            withUnsafeBytes(of: UInt32(value.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: value)
        }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in SHA256.hash(data: input) { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The appointment id a `book` command gets when it names a `commandId` but no
    /// `appointmentId`: the same for every send of that command, so its booking ids are too.
    public static func appointmentId(commandId: UUID) -> UUID {
        var input = Array("registre/command/v1/appointmentId".utf8)
        input.append(0)
        withUnsafeBytes(of: commandId.uuid) { input.append(contentsOf: $0) }
        return NameBasedUUID.make(from: input)
    }
}

extension DomainEvent {
    /// The id this event must carry in `stream`, when the catalogue fixes it (a booking's copies);
    /// nil when any id will do.
    public func requiredEventID(in stream: StreamName) -> UUID? {
        if case .appointmentBooked(let booked) = self { return booked.eventID(in: stream) }
        return nil
    }

    /// The same for a stream given by name, which is parsed only for an event that has one.
    public func requiredEventID(inStreamNamed name: String) -> UUID? {
        guard case .appointmentBooked(let booked) = self, let stream = StreamName(parsing: name) else { return nil }
        return booked.eventID(in: stream)
    }
}
