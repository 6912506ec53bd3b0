import Domain
import Foundation

/// A checkpoint of the offline rebuild on disk: the `ProjectionSet` at a position, which journal
/// it came from, and the `dossier_steps` rows already written, so that a later run folds only
/// the new events and still writes every table whole.
///
/// Layout (little-endian), written front to back in one pass:
///
///     "RGPRJCKP"  u32 format version  u32 zero                                  16 bytes
///     dossier steps, 58 bytes each: dossier id (16), position (u64), event id (16),
///         event kind (u8), status after (u8), occurred at ms (i64), recorded at µs (i64)
///     the state: `ProjectionSet` in `BinaryCoder` form
///     trailer: steps (u64), state length (u64), position (u64), id of the event at
///         position 0 (16), id of the event at position − 1 (16), checksum (u64), "RGPRJEND"
///
/// The checksum (`Checksum64`) covers every byte before it. The ids of the first and the last
/// event folded tie the checkpoint to one journal: event ids are random UUIDs, so another
/// journal, or this one rewritten, does not have the same ones at the same positions.
enum CheckpointFile {
    static let magic = Array("RGPRJCKP".utf8)
    static let endMagic = Array("RGPRJEND".utf8)
    /// 2: the backlog is kept by week (`CalendarTable`); a version-1 state does not decode into it.
    /// 3: a copy in an append is recognised by its data too (`ProjectionSet.CopyKey`).
    /// 4: the copies of the append being read are counted per stream (`ProjectionSet.CopyCount`):
    ///    a version-3 state's copy keys do not decode into them.
    /// 5: an attendance or no-show of an appointment that holds no place is an anomaly, not a
    ///    status, so a slot's places booked are exactly its appointments holding one, which
    ///    loading checks; a version-4 state may not pass that check.
    static let version: UInt32 = 5
    static let headerSize = 16
    static let stepSize = 58
    static let trailerSize = 72

    struct Trailer: Equatable {
        var steps: UInt64
        var stateLength: UInt64
        var position: UInt64
        var firstEventId: UUID
        var lastEventId: UUID
    }

    static let kindByTypeName: [String: EventKind] = Dictionary(uniqueKeysWithValues: EventKind.allCases.map { ($0.typeName, $0) })
    static let statuses = DossierStatus.allCases

    static func encode(_ step: DossierHistoryEntry, into out: inout [UInt8]) {
        withUnsafeBytes(of: step.dossierId.uuid) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: step.position.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: step.eventId.uuid) { out.append(contentsOf: $0) }
        out.append(kindByTypeName[step.type]?.rawValue ?? 0xFF)
        out.append(UInt8(statuses.firstIndex(of: step.statusAfter)!))
        withUnsafeBytes(of: Millis.of(step.occurredAt).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: step.recordedAtMicros.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Why a saved step is not one the fold could have written.
    struct UnreadableStep: Error, Equatable {
        var reason: String
    }

    /// The step in `b`, checked for what its fields alone can say: its event kind is a dossier
    /// event's, its status one the catalogue has, and its occurred-at time one the catalogue can
    /// spell (anything else would trap turning it into a date, or into a day in the export). Its
    /// order and commit time are checked against the others' by `CheckpointReader.forEachStep`.
    static func decodeStep(_ b: UnsafeRawBufferPointer) -> Result<DossierHistoryEntry, UnreadableStep> {
        guard b.count == stepSize else { return .failure(UnreadableStep(reason: "it holds \(b.count) bytes, not \(stepSize)")) }
        guard let kind = EventKind(rawValue: b[40]), kind.isDossierEvent else {
            return .failure(UnreadableStep(reason: "its event kind \(b[40]) is not a dossier event's"))
        }
        guard Int(b[41]) < statuses.count else { return .failure(UnreadableStep(reason: "its status \(b[41]) is not a dossier status")) }
        let occurredAt = Int64(littleEndian: b.loadUnaligned(fromByteOffset: 42, as: Int64.self))
        guard BusinessTime.contains(occurredAt) else {
            return .failure(UnreadableStep(reason: "its occurred-at time (\(occurredAt) ms) is not a time the catalogue can spell"))
        }
        return .success(DossierHistoryEntry(dossierId: uuid(b, 0), position: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                                            eventId: uuid(b, 24), type: kind.typeName, statusAfter: statuses[Int(b[41])],
                                            occurredAt: Millis.date(occurredAt),
                                            recordedAtMicros: Int64(littleEndian: b.loadUnaligned(fromByteOffset: 50, as: Int64.self))))
    }

    static func uuid(_ b: UnsafeRawBufferPointer, _ at: Int) -> UUID {
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[at..<(at + 16)])) }
        return UUID(uuid: raw)
    }

    static func encode(_ t: Trailer, checksumOfRest: (ArraySlice<UInt8>) -> UInt64) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: t.steps.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: t.stateLength.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: t.position.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: t.firstEventId.uuid) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: t.lastEventId.uuid) { out.append(contentsOf: $0) }
        let sum = checksumOfRest(out[...])
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: endMagic)
        return out
    }

    static func decodeTrailer(_ b: UnsafeRawBufferPointer) -> (Trailer, checksum: UInt64)? {
        guard b.count == trailerSize, Array(b[64..<72]) == endMagic else { return nil }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        return (Trailer(steps: u64(0), stateLength: u64(8), position: u64(16), firstEventId: uuid(b, 24), lastEventId: uuid(b, 40)), u64(56))
    }
}

/// A 64-bit checksum over a byte stream, fed in pieces of any size: catches a damaged or
/// truncated checkpoint. It is not a defence against someone forging one: anyone can recompute
/// it, so `CheckpointReader` also checks that the decoded state is consistent.
struct Checksum64 {
    private var state: UInt64 = 0x243F_6A88_85A3_08D3
    private var pending: UInt64 = 0
    private var pendingCount = 0
    private var length: UInt64 = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var i = 0
        while pendingCount != 0, i < bytes.count {
            pending |= UInt64(bytes[i]) << UInt64(8 * pendingCount)
            pendingCount += 1
            i += 1
            if pendingCount == 8 { mix(pending); pending = 0; pendingCount = 0 }
        }
        while i + 8 <= bytes.count {
            mix(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        while i < bytes.count {
            pending |= UInt64(bytes[i]) << UInt64(8 * pendingCount)
            pendingCount += 1
            i += 1
        }
    }

    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    mutating func update(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { update($0) } }

    @inline(__always) private mutating func mix(_ word: UInt64) {
        state = (state ^ word) &* 0x9E37_79B9_7F4A_7C15
        state ^= state >> 29
    }

    var value: UInt64 {
        var copy = self
        if copy.pendingCount != 0 { copy.mix(copy.pending ^ 0x80) }
        copy.mix(copy.length)
        var h = copy.state
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return h
    }
}
