/// Walks the frames of one segment file in order, reading it in large chunks.
///
/// It checks each frame's CRC and decompresses the payload, and nothing more: what a failure
/// means (a torn tail, or damage) depends on where it is, so callers decide (see `SegmentScanner`).
/// Not Sendable: a cursor belongs to one reader.
final class FrameCursor {
    enum Step {
        /// A frame whose CRC and compression are sound. `payload` is valid until the next call.
        case frame(FrameHeader, offset: UInt64, payload: UnsafeRawBufferPointer)
        /// Exactly at the end of the readable bytes.
        case end
        /// Bytes remain, but not a whole frame (a write in progress, or a torn tail).
        case incomplete(offset: UInt64, reason: String)
        /// A whole frame is there, but it is not sound.
        case invalid(offset: UInt64, kind: JournalDamage.Kind, reason: String)
    }

    let file: FileDescriptor
    /// Bytes of the file this cursor may read; a live segment grows, so callers may raise it.
    var limit: UInt64
    private(set) var offset: UInt64
    let maximumPayload: Int
    private var buffer: [UInt8]
    private var bufferStart: UInt64 = 0
    private var bufferCount = 0
    private var payloadBuffer: [UInt8] = []
    private let decompressor = ZstdDecompressor()
    private let chunk: Int

    /// `chunkSize` is how much to read ahead: large for scans, small for a single-frame lookup.
    init(file: FileDescriptor, from offset: UInt64, limit: UInt64, maximumPayload: Int, chunkSize: Int = 4 << 20) {
        self.file = file
        self.offset = offset
        self.limit = limit
        self.maximumPayload = maximumPayload
        chunk = chunkSize
        buffer = []
    }

    /// Makes `[at, at + count)` available in the buffer; false when the file is shorter.
    private func ensure(_ at: UInt64, _ count: Int) throws -> Bool {
        if at + UInt64(count) > limit { return false }
        if at >= bufferStart, at + UInt64(count) <= bufferStart + UInt64(bufferCount) { return true }
        let want = Int(min(UInt64(max(chunk, count)), limit - at))
        if buffer.count < want { buffer = [UInt8](repeating: 0, count: want) }
        let n = try buffer.withUnsafeMutableBytes { (raw) throws in
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: at)
        }
        bufferStart = at
        bufferCount = n
        return n >= count
    }

    /// Positions the cursor at a frame boundary found elsewhere (an index lookup).
    func seek(to newOffset: UInt64) { offset = newOffset }

    func next() throws -> Step {
        let headerSize = JournalFormat.frameHeaderSize
        if offset == limit { return .end }
        guard try ensure(offset, headerSize) else {
            return .incomplete(offset: offset, reason: "\(limit - offset) bytes after the last frame, fewer than a frame header")
        }
        let start = Int(offset - bufferStart)
        let header: FrameHeader
        do {
            header = try buffer.withUnsafeBytes { (raw) throws(FrameHeader.DecodeFailure) in
                try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + 60)]), maximumPayload: maximumPayload)
            }
        } catch {
            return .invalid(offset: offset, kind: .badFrameHeader, reason: "frame header unreadable (\(error))")
        }
        let total = headerSize + Int(header.storedLength)
        guard try ensure(offset, total) else {
            return .incomplete(offset: offset, reason: "frame of \(total) bytes runs past the end of the file")
        }
        let s = Int(offset - bufferStart)
        let frameOffset = offset
        return try buffer.withUnsafeBytes { (raw) throws -> Step in
            let stored = UnsafeRawBufferPointer(rebasing: raw[(s + headerSize)..<(s + total)])
            let expected: UInt32 = raw.getInteger(at: s + 60)
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[s..<(s + 60)]))
            crc = CRC32C.checksum(stored, extending: crc)
            guard crc == expected else {
                return .invalid(offset: frameOffset, kind: .badChecksum, reason: "CRC32C mismatch (stored \(String(expected, radix: 16)), computed \(String(crc, radix: 16)))")
            }
            switch header.codec {
            case .none:
                guard header.storedLength == header.payloadLength else {
                    return .invalid(offset: frameOffset, kind: .badFrameHeader, reason: "uncompressed frame whose stored and payload lengths differ")
                }
                offset += UInt64(total)
                return .frame(header, offset: frameOffset, payload: stored)
            case .zstd:
                do {
                    try decompressor.decompress(stored, expectedSize: Int(header.payloadLength), into: &payloadBuffer)
                } catch {
                    return .invalid(offset: frameOffset, kind: .badCompression, reason: "zstd payload does not decode (\(error))")
                }
                offset += UInt64(total)
                return payloadBuffer.withUnsafeBytes { p in
                    .frame(header, offset: frameOffset, payload: UnsafeRawBufferPointer(rebasing: p[0..<Int(header.payloadLength)]))
                }
            }
        }
    }

    /// Looks for any sound frame starting after `offset`: if there is one, the bad bytes before
    /// it are damage in the middle of the log, not a torn tail.
    func findSoundFrame(after badOffset: UInt64) throws -> UInt64? {
        var candidate = badOffset + 1
        let magic = JournalFormat.frameMagic
        while candidate + UInt64(JournalFormat.frameHeaderSize) <= limit {
            guard try ensure(candidate, min(chunk, Int(limit - candidate))) else { return nil }
            let found: UInt64? = buffer.withUnsafeBytes { raw in
                var i = Int(candidate - bufferStart)
                let end = bufferCount - 3
                while i < end {
                    if raw[i] == magic[0], raw[i + 1] == magic[1], raw[i + 2] == magic[2], raw[i + 3] == magic[3] {
                        return bufferStart + UInt64(i)
                    }
                    i += 1
                }
                return nil
            }
            guard let at = found else {
                let scanned = bufferStart + UInt64(max(bufferCount - 3, 1))
                if scanned <= candidate { return nil }
                candidate = scanned
                continue
            }
            let saved = offset
            offset = at
            let step = try next()
            offset = saved
            if case .frame = step { return at }
            candidate = at + 1
        }
        return nil
    }
}
