import Foundation

/// Constants and fixed headers of the on-disk format. FORMAT.md is the normative description;
/// this file is its executable twin, and the tests check that they agree.
public enum JournalFormat {
    public static let version: UInt16 = 1
    public static let minimumReaderVersion: UInt16 = 1
    /// The newest segment format this code reads: 2 adds packed segments (blocks of frames).
    public static let readerVersion: UInt16 = 2
    /// Format and minimum reader version of a packed segment: a version-1 reader must refuse it.
    static let packedVersion: UInt16 = 2
    static let segmentMagic = Array("RGSTRSEG".utf8)
    static let frameMagic = Array("RGFR".utf8)
    static let blockMagic = Array("RGBK".utf8)
    static let indexMagic = Array("RGSTRIDX".utf8)
    static let segmentHeaderSize = 128
    static let frameHeaderSize = 64
    /// The largest payload (P) and stored length (S) a frame may declare: 64 MiB + 1 MiB
    /// (section 5). Every reader bounds frames by this constant, never by the options of the
    /// process that opens the journal: a frame another process could write must never look
    /// too large, and be cut as a torn tail, because this one was given smaller limits.
    static let maximumPayloadBytes = (64 << 20) + (1 << 20)
    /// The largest append and frame a writer may be configured for, so its frames fit the bound.
    static let maximumConfigurableBytes = 64 << 20
    static let recordFixedSize = 58  // the length prefix included
    static let segmentExtension = "seg"
    static let indexExtension = "idx"

    /// `00000000000000000042.seg`: 20 digits, so names sort in position order.
    static func segmentName(firstPosition: UInt64) -> String {
        paddedPosition(firstPosition) + "." + segmentExtension
    }

    static func indexName(firstPosition: UInt64) -> String {
        paddedPosition(firstPosition) + "." + indexExtension
    }

    static func paddedPosition(_ p: UInt64) -> String {
        let digits = String(p)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// Parses a segment file name; nil for anything else in the directory.
    static func firstPosition(ofSegmentNamed name: String) -> UInt64? {
        guard name.hasSuffix("." + segmentExtension) else { return nil }
        let stem = name.dropLast(segmentExtension.count + 1)
        guard stem.count == 20, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(stem)
    }
}

/// The 128-byte header at the start of every segment file.
struct SegmentHeader: Equatable {
    var formatVersion: UInt16 = JournalFormat.version
    var minimumReaderVersion: UInt16 = JournalFormat.minimumReaderVersion
    var journalID: UUID
    var firstPosition: UInt64
    var previousChainHash: Digest32
    var createdAtMicros: Int64

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: JournalFormat.segmentHeaderSize)
        w.writeBytes(JournalFormat.segmentMagic)
        w.writeInteger(formatVersion)
        w.writeInteger(minimumReaderVersion)
        w.writeInteger(UInt32(JournalFormat.segmentHeaderSize))
        w.writeBytes(journalID.bytes)
        w.writeInteger(firstPosition)
        w.writeBytes(previousChainHash.bytes)
        w.writeInteger(createdAtMicros)
        w.writeZeros(124 - w.count)
        w.writeInteger(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    enum DecodeFailure: Error, Equatable {
        case tooShort, badMagic, badChecksum, unsupportedVersion(UInt16), badLength(UInt32)
    }

    static func decode(_ raw: UnsafeRawBufferPointer) throws(DecodeFailure) -> SegmentHeader {
        guard raw.count >= JournalFormat.segmentHeaderSize else { throw .tooShort }
        guard Array(raw[0..<8]) == JournalFormat.segmentMagic else { throw .badMagic }
        let crc: UInt32 = raw.getInteger(at: 124)
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<124])) == crc else { throw .badChecksum }
        let minimum: UInt16 = raw.getInteger(at: 10)
        guard minimum <= JournalFormat.readerVersion else { throw .unsupportedVersion(minimum) }
        let length: UInt32 = raw.getInteger(at: 12)
        guard length == JournalFormat.segmentHeaderSize else { throw .badLength(length) }
        return SegmentHeader(
            formatVersion: raw.getInteger(at: 8),
            minimumReaderVersion: minimum,
            journalID: UUID(bytes: Array(raw[16..<32])),
            firstPosition: raw.getInteger(at: 32),
            previousChainHash: Digest32(bytes: Array(raw[40..<72])),
            createdAtMicros: raw.getInteger(at: 72)
        )
    }
}

/// The 64-byte header in front of every frame's payload.
struct FrameHeader: Equatable {
    enum Codec: UInt8 { case none = 0, zstd = 1 }

    var storedLength: UInt32
    var payloadLength: UInt32
    var codec: Codec
    var firstPosition: UInt64
    var eventCount: UInt32
    var chainHash: Digest32

    /// Bytes 0..<60; the CRC that follows covers these and the stored payload.
    func encodedWithoutChecksum() -> [UInt8] {
        var w = ByteWriter(capacity: JournalFormat.frameHeaderSize)
        w.writeBytes(JournalFormat.frameMagic)
        w.writeInteger(storedLength)
        w.writeInteger(payloadLength)
        w.writeInteger(codec.rawValue)
        w.writeZeros(3)
        w.writeInteger(firstPosition)
        w.writeInteger(eventCount)
        w.writeBytes(chainHash.bytes)
        return w.bytes
    }

    enum DecodeFailure: Error, Equatable {
        case badMagic, badCodec(UInt8), badReserved, tooLarge
        /// `firstPosition + eventCount` does not fit in 64 bits: no writer makes such a header.
        case positionsOverflow
    }

    /// Decodes the 60 header bytes; the caller checks the CRC over header and payload.
    static func decode(_ raw: UnsafeRawBufferPointer, maximumPayload: Int) throws(DecodeFailure) -> FrameHeader {
        guard raw[0] == 0x52, raw[1] == 0x47, raw[2] == 0x46, raw[3] == 0x52 else { throw .badMagic }
        guard let codec = Codec(rawValue: raw[12]) else { throw .badCodec(raw[12]) }
        guard raw[13] == 0, raw[14] == 0, raw[15] == 0 else { throw .badReserved }
        let stored: UInt32 = raw.getInteger(at: 4)
        let payload: UInt32 = raw.getInteger(at: 8)
        guard Int(payload) <= maximumPayload, Int(stored) <= maximumPayload + maximumPayload / 64 + 1024 else { throw .tooLarge }
        let first: UInt64 = raw.getInteger(at: 16), count: UInt32 = raw.getInteger(at: 24)
        guard first <= UInt64.max - UInt64(count) else { throw .positionsOverflow }
        return FrameHeader(
            storedLength: stored,
            payloadLength: payload,
            codec: codec,
            firstPosition: raw.getInteger(at: 16),
            eventCount: raw.getInteger(at: 24),
            chainHash: Digest32(bytes: Array(raw[28..<60]))
        )
    }

    /// chain = SHA-256(previous chain ‖ firstPosition u64 ‖ eventCount u32 ‖ payloadLength u32 ‖ payload).
    /// It hashes the uncompressed payload, so the chain does not depend on the codec.
    static func chainHash(previous: Digest32, firstPosition: UInt64, eventCount: UInt32, payload: UnsafeRawBufferPointer) -> Digest32 {
        var hasher = ChainHasher()
        previous.withBytes { hasher.update($0) }
        let fields = (firstPosition.littleEndian, eventCount.littleEndian, UInt32(payload.count).littleEndian)
        withUnsafeBytes(of: fields) { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<16])) }
        hasher.update(payload)
        return hasher.finish()
    }

    /// The same chain hash, computing the Merkle leaves of the records `leaves` located in
    /// `payload` alongside it (see `FrameLeaves`).
    static func chainHash(previous: Digest32, firstPosition: UInt64, eventCount: UInt32, payload: UnsafeRawBufferPointer,
                          leaves: inout FrameLeaves) -> Digest32 {
        var hasher = ChainHasher()
        previous.withBytes { hasher.update($0) }
        let fields = (firstPosition.littleEndian, eventCount.littleEndian, UInt32(payload.count).littleEndian)
        withUnsafeBytes(of: fields) { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<16])) }
        hasher.update(payload, hashingLeaves: &leaves, of: payload)
        return hasher.finish()
    }
}

/// The 64-byte header of a block: the frames of a packed segment, compressed together.
///
/// Frames compressed one by one lose most of zstd's reach (a 100-event frame shares little
/// context); a block of a few hundred kilobytes of frames compresses about 10 % smaller. The frames
/// inside keep their own headers, chain hashes and CRCs, so everything above the cursor reads
/// them as before.
struct BlockHeader: Equatable {
    var storedLength: UInt32
    var contentLength: UInt32
    var codec: FrameHeader.Codec
    var firstPosition: UInt64
    var eventCount: UInt32
    var frameCount: UInt32

    /// Bytes 0..<60; the CRC that follows covers these and the stored content.
    func encodedWithoutChecksum() -> [UInt8] {
        var w = ByteWriter(capacity: JournalFormat.frameHeaderSize)
        w.writeBytes(JournalFormat.blockMagic)
        w.writeInteger(storedLength)
        w.writeInteger(contentLength)
        w.writeInteger(codec.rawValue)
        w.writeZeros(3)
        w.writeInteger(firstPosition)
        w.writeInteger(eventCount)
        w.writeInteger(frameCount)
        w.writeZeros(60 - w.count)
        return w.bytes
    }

    static func isBlock(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw[0] == 0x52 && raw[1] == 0x47 && raw[2] == 0x42 && raw[3] == 0x4B
    }

    /// Decodes the 60 header bytes; the caller checks the CRC over header and stored content.
    static func decode(_ raw: UnsafeRawBufferPointer, maximumContent: Int) throws(FrameHeader.DecodeFailure) -> BlockHeader {
        guard isBlock(raw) else { throw .badMagic }
        guard let codec = FrameHeader.Codec(rawValue: raw[12]) else { throw .badCodec(raw[12]) }
        guard raw[13] == 0, raw[14] == 0, raw[15] == 0, (32..<60).allSatisfy({ raw[$0] == 0 }) else { throw .badReserved }
        let stored: UInt32 = raw.getInteger(at: 4)
        let content: UInt32 = raw.getInteger(at: 8)
        guard Int(content) <= maximumContent, Int(stored) <= maximumContent + maximumContent / 64 + 1024 else { throw .tooLarge }
        let first: UInt64 = raw.getInteger(at: 16), count: UInt32 = raw.getInteger(at: 24)
        guard first <= UInt64.max - UInt64(count) else { throw .positionsOverflow }
        return BlockHeader(storedLength: stored, contentLength: content, codec: codec, firstPosition: raw.getInteger(at: 16),
                           eventCount: raw.getInteger(at: 24), frameCount: raw.getInteger(at: 28))
    }
}

extension UUID {
    init(bytes b: [UInt8]) {
        self.init(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    /// The 16 bytes at `o`. `UUID` is its bytes (`uuid_t`) and nothing else, and `UUID(uuid:)` is
    /// a call into Foundation that cannot be inlined, once per event read (the rebuild reads ten
    /// million): two word loads instead. `unsafeBitCast` checks that the sizes agree.
    @inline(__always) init(raw: UnsafeRawBufferPointer, at o: Int) {
        precondition(o >= 0 && o + 16 <= raw.count, "UUID bytes out of range")
        self = unsafeBitCast((raw.loadUnaligned(fromByteOffset: o, as: UInt64.self),
                              raw.loadUnaligned(fromByteOffset: o + 8, as: UInt64.self)), to: UUID.self)
    }

    var bytes: [UInt8] {
        withUnsafeBytes(of: uuid) { Array($0) }
    }
}
