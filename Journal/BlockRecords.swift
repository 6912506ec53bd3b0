/// The one change records undergo inside a block: fields that follow from their neighbours are
/// stored as zero or as a difference, so zstd does not pay for them (FORMAT.md, section 3.1).
///
/// A record's position is its frame's first position plus its index, and the events of a frame
/// usually share one recorded-at time; stored as is they cost about 5 bytes an event after
/// compression, a twentieth of a packed event. Everything else, the chain hash included, is
/// kept, so a reader restores the frame exactly and checks it as usual.
enum BlockRecords {
    /// Offsets inside a record (FORMAT.md, section 4).
    private static let positionField = 4
    private static let recordedAtField = 36

    /// Rewrites a frame's payload for a block: positions to zero, each recorded-at after the first
    /// as the difference from the record before it; the reason the records cannot be walked, or
    /// nil. A CRC only says the bytes are the ones written, so the event count and each record's
    /// length are checked as `decode` checks them, each record before it is touched; on failure
    /// the payload is left partly rewritten and must be dropped.
    static func encode(_ payload: UnsafeMutableRawBufferPointer, eventCount: UInt32) -> String? {
        var at = 0
        var previous: Int64 = 0
        for k in 0..<Int(eventCount) {
            guard at < payload.count else { return "the frame says \(eventCount) events, its payload holds \(k) records" }
            guard payload.count - at >= JournalFormat.recordFixedSize else { return "record \(k) of the frame is cut short" }
            let length = Int(payload.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
            guard length + 4 >= JournalFormat.recordFixedSize, length + 4 <= payload.count - at else { return "record \(k) of the frame has length \(length)" }
            payload.storeBytes(of: UInt64(0), toByteOffset: at + positionField, as: UInt64.self)
            let time = Int64(littleEndian: payload.loadUnaligned(fromByteOffset: at + recordedAtField, as: Int64.self))
            let stored = k == 0 ? time : time &- previous
            payload.storeBytes(of: stored.littleEndian, toByteOffset: at + recordedAtField, as: Int64.self)
            previous = time
            at += length + 4
        }
        return at == payload.count ? nil : "the frame's payload goes on after its \(eventCount) records"
    }

    /// Undoes `encode` in place; the reason the records cannot be walked, or nil. The records are
    /// otherwise checked later, by whoever decodes them, as for any frame.
    static func decode(_ payload: UnsafeMutableRawBufferPointer, firstPosition: UInt64, eventCount: UInt32) -> String? {
        var at = 0
        var previous: Int64 = 0
        for k in 0..<Int(eventCount) {
            guard payload.count - at >= JournalFormat.recordFixedSize else { return "record \(k) of the frame is cut short" }
            let length = Int(payload.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
            guard length + 4 >= JournalFormat.recordFixedSize, length + 4 <= payload.count - at else { return "record \(k) of the frame has length \(length)" }
            guard payload.loadUnaligned(fromByteOffset: at + positionField, as: UInt64.self) == 0 else {
                return "record \(k) of the frame has a position field that is not zero"
            }
            payload.storeBytes(of: (firstPosition + UInt64(k)).littleEndian, toByteOffset: at + positionField, as: UInt64.self)
            let stored = Int64(littleEndian: payload.loadUnaligned(fromByteOffset: at + recordedAtField, as: Int64.self))
            let time = k == 0 ? stored : previous &+ stored
            payload.storeBytes(of: time.littleEndian, toByteOffset: at + recordedAtField, as: Int64.self)
            previous = time
            at += length + 4
        }
        return at == payload.count ? nil : "the frame's payload goes on after its \(eventCount) records"
    }
}
