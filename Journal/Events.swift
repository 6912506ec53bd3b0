import Foundation

/// An event as stored: the envelope the journal assigns plus the bytes the client sent.
public struct RecordedEvent: Sendable, Equatable, Hashable {
    /// Global position, gapless from 0.
    public var position: UInt64
    public var stream: String
    /// Version within the stream, gapless from 0.
    public var version: UInt64
    public var id: UUID
    public var type: String
    /// Server clock at commit, microseconds since the Unix epoch; never decreases along the log.
    public var recordedAtMicros: Int64
    /// A JSON object, stored as received after validation.
    public var metadata: [UInt8]
    /// A JSON object, stored as received after validation.
    public var data: [UInt8]
    /// True on the last event of the append it belongs to: appends are the unit of atomicity.
    public var endsAppend: Bool

    public init(position: UInt64, stream: String, version: UInt64, id: UUID, type: String,
                recordedAtMicros: Int64, metadata: [UInt8], data: [UInt8], endsAppend: Bool) {
        self.position = position
        self.stream = stream
        self.version = version
        self.id = id
        self.type = type
        self.recordedAtMicros = recordedAtMicros
        self.metadata = metadata
        self.data = data
        self.endsAppend = endsAppend
    }

    public var recordedAt: Date { Date(timeIntervalSince1970: Double(recordedAtMicros) / 1_000_000) }
}

/// An event a client wants to append.
public struct ProposedEvent: Sendable, Equatable {
    public var stream: String
    public var type: String
    /// Supplying the id makes a retry idempotent; without one the journal assigns a random UUID.
    public var id: UUID?
    public var metadata: [UInt8]
    public var data: [UInt8]

    public init(stream: String, type: String, id: UUID? = nil, data: [UInt8], metadata: [UInt8] = Array("{}".utf8)) {
        self.stream = stream
        self.type = type
        self.id = id
        self.data = data
        self.metadata = metadata
    }
}

/// What the writer must find in a stream before an append may go in.
public enum ExpectedVersion: Sendable, Equatable, Hashable, CustomStringConvertible {
    case any
    case noStream
    case streamExists
    case exact(UInt64)

    /// Whether a stream whose last version is `current` (nil: no stream) satisfies this expectation.
    public func isSatisfied(by current: UInt64?) -> Bool {
        switch self {
        case .any: return true
        case .noStream: return current == nil
        case .streamExists: return current != nil
        case .exact(let v): return current == v
        }
    }

    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "noStream"
        case .streamExists: return "streamExists"
        case .exact(let v): return String(v)
        }
    }

    /// Parses the wire form: a number, `any`, `noStream` or `streamExists`.
    public init?(wire: String) {
        switch wire {
        case "any": self = .any
        case "noStream": self = .noStream
        case "streamExists": self = .streamExists
        default:
            guard let v = UInt64(wire) else { return nil }
            self = .exact(v)
        }
    }
}

/// One atomic append: all its events go in, or none do.
public struct AppendRequest: Sendable, Equatable {
    public var events: [ProposedEvent]
    /// A stream that is absent here is `any`.
    public var expectedVersions: [String: ExpectedVersion]
    /// Set only by a caller in this package that has already checked every `data` and `metadata`
    /// with `JSONValidation.validateObject` (the server validates each request body whole), so
    /// the journal does not scan the same bytes a second time. Other callers cannot set it.
    package var jsonAlreadyValidated = false

    public init(events: [ProposedEvent], expectedVersions: [String: ExpectedVersion] = [:]) {
        self.events = events
        self.expectedVersions = expectedVersions
    }
}

public struct AppendResult: Sendable, Equatable {
    public var firstPosition: UInt64
    public var lastPosition: UInt64
    /// The last version written to each stream of the append.
    public var versions: [String: UInt64]
    /// True when every event id was already committed and nothing was written.
    public var wasAlreadyCommitted: Bool

    public init(firstPosition: UInt64, lastPosition: UInt64, versions: [String: UInt64], wasAlreadyCommitted: Bool) {
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.versions = versions
        self.wasAlreadyCommitted = wasAlreadyCommitted
    }
}

/// A record decoded in place: no copies, for replay loops that must run at millions of events
/// a second. The buffers are valid only inside the closure that receives the view.
public struct EventView {
    public let record: UnsafeRawBufferPointer

    @inline(__always) public var position: UInt64 { record.getInteger(at: 4) }
    @inline(__always) public var version: UInt64 { record.getInteger(at: 12) }
    @inline(__always) public var recordedAtMicros: Int64 { record.getInteger(at: 36) }
    @inline(__always) public var endsAppend: Bool { (record.getInteger(at: 44) as UInt16) & 1 == 1 }
    @inline(__always) var streamLength: Int { Int(record.getInteger(at: 46) as UInt16) }
    @inline(__always) var typeLength: Int { Int(record.getInteger(at: 48) as UInt16) }
    @inline(__always) var metadataLength: Int { Int(record.getInteger(at: 50) as UInt32) }
    @inline(__always) var dataLength: Int { Int(record.getInteger(at: 54) as UInt32) }

    public var id: UUID { UUID(raw: record, at: 20) }
    public var streamBytes: UnsafeRawBufferPointer { slice(58, streamLength) }
    public var typeBytes: UnsafeRawBufferPointer { slice(58 + streamLength, typeLength) }
    public var metadataBytes: UnsafeRawBufferPointer { slice(58 + streamLength + typeLength, metadataLength) }
    public var dataBytes: UnsafeRawBufferPointer { slice(58 + streamLength + typeLength + metadataLength, dataLength) }
    public var stream: String { String(decoding: streamBytes, as: UTF8.self) }
    public var type: String { String(decoding: typeBytes, as: UTF8.self) }

    @inline(__always) private func slice(_ start: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: record[start..<(start + count)])
    }

    public func materialize() -> RecordedEvent {
        RecordedEvent(position: position, stream: stream, version: version, id: id, type: type,
                      recordedAtMicros: recordedAtMicros, metadata: Array(metadataBytes), data: Array(dataBytes),
                      endsAppend: endsAppend)
    }
}

/// Encodes event records into a frame payload (the layout is in FORMAT.md, "Event record").
enum RecordCodec {
    static func append(position: UInt64, version: UInt64, id: UUID, recordedAtMicros: Int64, endsAppend: Bool,
                       stream: String, type: String, metadata: [UInt8], data: [UInt8], to w: inout ByteWriter) {
        let streamCount = stream.utf8.count
        let typeCount = type.utf8.count
        let length = JournalFormat.recordFixedSize - 4 + streamCount + typeCount + metadata.count + data.count
        w.writeInteger(UInt32(length))
        w.writeInteger(position)
        w.writeInteger(version)
        withUnsafeBytes(of: id.uuid) { w.bytes.append(contentsOf: $0) }
        w.writeInteger(recordedAtMicros)
        w.writeInteger(UInt16(endsAppend ? 1 : 0))
        w.writeInteger(UInt16(streamCount))
        w.writeInteger(UInt16(typeCount))
        w.writeInteger(UInt32(metadata.count))
        w.writeInteger(UInt32(data.count))
        w.writeBytes(stream.utf8)
        w.writeBytes(type.utf8)
        w.bytes.append(contentsOf: metadata)
        w.bytes.append(contentsOf: data)
    }

    /// Offsets in a record of the fields the writer fills once it has ordered the append.
    static let positionOffset = 4, versionOffset = 12, recordedAtOffset = 36

    /// Fills in a record encoded by `append` with zero position, version and time.
    @inline(__always)
    static func fill(record at: Int, position: UInt64, version: UInt64, recordedAtMicros: Int64, in payload: UnsafeMutableRawBufferPointer) {
        payload.storeBytes(of: position.littleEndian, toByteOffset: at + positionOffset, as: UInt64.self)
        payload.storeBytes(of: version.littleEndian, toByteOffset: at + versionOffset, as: UInt64.self)
        payload.storeBytes(of: recordedAtMicros.littleEndian, toByteOffset: at + recordedAtOffset, as: Int64.self)
    }

    /// The stream id of the record at `at`, as bytes.
    @inline(__always)
    static func streamBytes(ofRecordAt at: Int, in payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let length = Int(payload.loadUnaligned(fromByteOffset: at + 46, as: UInt16.self).littleEndian)
        return UnsafeRawBufferPointer(rebasing: payload[(at + JournalFormat.recordFixedSize)..<(at + JournalFormat.recordFixedSize + length)])
    }

    enum Malformed: Error, Equatable {
        case truncated(offset: Int), lengthMismatch(offset: Int), countMismatch(expected: UInt32, actual: UInt32), position(expected: UInt64, actual: UInt64)
        /// Flag bits other than bit 0 set: no writer of this format version sets them.
        case unknownFlags(offset: Int, flags: UInt16)
        /// The frame's last record does not end an append: a frame holds whole appends only.
        case unfinishedAppend(offset: Int)
    }

    /// Walks the records of a payload, checking each record's declared lengths add up,
    /// positions run on from `firstPosition`, and the flags (FORMAT.md, section 4): only bit 0,
    /// and set on the last record, since a frame holds whole appends.
    @inline(__always)
    static func forEachRecord(in payload: UnsafeRawBufferPointer, firstPosition: UInt64, eventCount: UInt32,
                              _ body: (EventView) throws -> Void) throws {
        var offset = 0
        var n: UInt32 = 0
        while offset < payload.count {
            guard payload.count - offset >= JournalFormat.recordFixedSize else { throw Malformed.truncated(offset: offset) }
            let length = Int(payload.getInteger(at: offset) as UInt32) + 4
            guard length >= JournalFormat.recordFixedSize, payload.count - offset >= length else { throw Malformed.truncated(offset: offset) }
            let view = EventView(record: UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + length)]))
            guard JournalFormat.recordFixedSize + view.streamLength + view.typeLength + view.metadataLength + view.dataLength == length else {
                throw Malformed.lengthMismatch(offset: offset)
            }
            guard n < eventCount else { throw Malformed.countMismatch(expected: eventCount, actual: n + 1) }
            let expected = firstPosition + UInt64(n)
            guard view.position == expected else { throw Malformed.position(expected: expected, actual: view.position) }
            let flags: UInt16 = view.record.getInteger(at: 44)
            guard flags & ~1 == 0 else { throw Malformed.unknownFlags(offset: offset, flags: flags) }
            guard flags == 1 || offset + length < payload.count else { throw Malformed.unfinishedAppend(offset: offset) }
            try body(view)
            n += 1
            offset += length
        }
        guard n == eventCount else { throw Malformed.countMismatch(expected: eventCount, actual: n) }
    }
}
