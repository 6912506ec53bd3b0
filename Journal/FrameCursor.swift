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
    /// The decoded content of the block read last (packed segments), and its frames not yet handed out.
    private var blockBuffer: [UInt8] = []
    private var blockFrames: [(header: FrameHeader, payload: Range<Int>)] = []
    private var nextBlockFrame = 0
    private var blockOffset: UInt64 = 0
    /// Bytes of `blockBuffer` that are the current block's content (the buffer may be longer).
    private var blockContentCount = 0
    private let decompressor = ZstdDecompressor()
    private let chunk: Int
    /// Bytes read from the file.
    private(set) var bytesRead: UInt64 = 0
    /// Bytes checksummed, decoded or searched for a magic: the cursor's work, for any file at most
    /// a small multiple of its size (see `findSoundFrame`).
    private(set) var examinedBytes: UInt64 = 0
    /// The part of `examinedBytes` spent on bytes that are not a sound frame and on searching
    /// after them; `findSoundFrame` stops once it passes `searchWorkPerByte` times the file.
    private var unsoundBytes: UInt64 = 0
    static let searchWorkPerByte: UInt64 = 8
    /// Whether the step read last was a whole frame or block whose CRC held, sound or not: an
    /// `.invalid` one was written whole, so it is damage wherever it is, and a torn-tail search
    /// that meets it must stop there (FORMAT.md, section 5).
    private(set) var lastChecksumHeld = false

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
        // Offsets may come from an index on disk: compare without overflowing.
        guard at <= limit, UInt64(count) <= limit - at else { return false }
        if at >= bufferStart, at + UInt64(count) <= bufferStart + UInt64(bufferCount) { return true }
        let want = Int(min(UInt64(max(chunk, count)), limit - at))
        if buffer.count < want { buffer = [UInt8](repeating: 0, count: want) }
        let n = try buffer.withUnsafeMutableBytes { (raw) throws in
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: at)
        }
        bufferStart = at
        bufferCount = n
        bytesRead &+= UInt64(n)
        return n >= count
    }

    /// Positions the cursor at a frame boundary found elsewhere (an index lookup).
    func seek(to newOffset: UInt64) {
        offset = newOffset
        blockFrames.removeAll(keepingCapacity: true)
        nextBlockFrame = 0
    }

    /// The next frame. Inside a block every frame reports the block's offset: that is where a
    /// reader seeks to reach it, and what a packed segment's index records.
    func next() throws -> Step {
        let before = examinedBytes
        let step = try readNext()
        if case .frame = step {} else { unsoundBytes &+= examinedBytes &- before }
        return step
    }

    private func readNext() throws -> Step {
        lastChecksumHeld = false
        if nextBlockFrame < blockFrames.count {
            let (header, range) = blockFrames[nextBlockFrame]
            nextBlockFrame += 1
            return blockBuffer.withUnsafeBytes { .frame(header, offset: blockOffset, payload: UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
        let headerSize = JournalFormat.frameHeaderSize
        if offset == limit { return .end }
        if offset > limit {
            // Only an index that disagrees with its segment points past the end.
            return .invalid(offset: offset, kind: .badIndex, reason: "a frame is expected at byte \(offset), past the end of the file's \(limit) readable bytes")
        }
        guard try ensure(offset, headerSize) else {
            return .incomplete(offset: offset, reason: "\(limit - offset) bytes after the last frame, fewer than a frame header")
        }
        let start = Int(offset - bufferStart)
        if buffer.withUnsafeBytes({ BlockHeader.isBlock(UnsafeRawBufferPointer(rebasing: $0[start..<(start + 4)])) }) {
            return try nextBlock(at: start)
        }
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
        examinedBytes &+= UInt64(total)
        return try buffer.withUnsafeBytes { (raw) throws -> Step in
            let stored = UnsafeRawBufferPointer(rebasing: raw[(s + headerSize)..<(s + total)])
            if let reason = Self.checksumMismatch(raw, at: s, total: total) {
                return .invalid(offset: frameOffset, kind: .badChecksum, reason: reason)
            }
            lastChecksumHeld = true
            guard header.eventCount >= 1 else {
                // Written whole, so not a torn write; but no writer makes an empty frame, and one
                // would move the chain head without an event.
                return .invalid(offset: frameOffset, kind: .badFrameHeader, reason: "frame of no events (event count 0)")
            }
            switch header.codec {
            case .none:
                guard header.storedLength == header.payloadLength else {
                    // After the CRC: a payload that cannot be what its header says, like one that does not decompress.
                    return .invalid(offset: frameOffset, kind: .badCompression, reason: "uncompressed frame whose stored and payload lengths differ")
                }
                offset += UInt64(total)
                return .frame(header, offset: frameOffset, payload: stored)
            case .zstd:
                examinedBytes &+= UInt64(header.payloadLength)
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

    /// Checks the CRC32C at byte 60 of the frame or block at `s` (header bytes 0..<60, then the
    /// stored bytes up to `total`); why it fails, or nil.
    private static func checksumMismatch(_ raw: UnsafeRawBufferPointer, at s: Int, total: Int) -> String? {
        let expected: UInt32 = raw.getInteger(at: s + 60)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(s + JournalFormat.frameHeaderSize)..<(s + total)]),
                                  extending: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[s..<(s + 60)])))
        return crc == expected ? nil : "CRC32C mismatch (stored \(String(expected, radix: 16)), computed \(String(crc, radix: 16)))"
    }

    /// Reads the block at `offset` (its header is at `start` in the buffer), checks it whole, and
    /// hands out its first frame. A block is sound only if every frame in it is.
    private func nextBlock(at start: Int) throws -> Step {
        let headerSize = JournalFormat.frameHeaderSize
        let blockAt = offset
        let maximumContent = maximumPayload + headerSize
        let header: BlockHeader
        do {
            header = try buffer.withUnsafeBytes { (raw) throws(FrameHeader.DecodeFailure) in
                try BlockHeader.decode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + 60)]), maximumContent: maximumContent)
            }
        } catch {
            return .invalid(offset: blockAt, kind: .badFrameHeader, reason: "block header unreadable (\(error))")
        }
        let total = headerSize + Int(header.storedLength)
        guard try ensure(blockAt, total) else {
            return .incomplete(offset: blockAt, reason: "block of \(total) bytes runs past the end of the file")
        }
        let s = Int(blockAt - bufferStart)
        examinedBytes &+= UInt64(total)
        let failure: Step? = buffer.withUnsafeBytes { (raw) -> Step? in
            let stored = UnsafeRawBufferPointer(rebasing: raw[(s + headerSize)..<(s + total)])
            if let reason = Self.checksumMismatch(raw, at: s, total: total) {
                return .invalid(offset: blockAt, kind: .badChecksum, reason: "block " + reason)
            }
            lastChecksumHeld = true
            // Decoded (or copied), then walked frame by frame and record by record.
            examinedBytes &+= UInt64(header.contentLength)
            switch header.codec {
            case .none:
                guard header.storedLength == header.contentLength else {
                    return .invalid(offset: blockAt, kind: .badFrameHeader, reason: "uncompressed block whose stored and content lengths differ")
                }
                blockBuffer.removeAll(keepingCapacity: true)
                blockBuffer.append(contentsOf: stored)
            case .zstd:
                do {
                    try decompressor.decompress(stored, expectedSize: Int(header.contentLength), into: &blockBuffer)
                } catch {
                    return .invalid(offset: blockAt, kind: .badCompression, reason: "zstd block does not decode (\(error))")
                }
            }
            return nil
        }
        if let failure { return failure }
        blockContentCount = Int(header.contentLength)
        blockFrames.removeAll(keepingCapacity: true)
        nextBlockFrame = 0
        if let reason = splitBlock(header) {
            blockFrames.removeAll(keepingCapacity: true)
            return .invalid(offset: blockAt, kind: .badFrameHeader, reason: reason)
        }
        offset = blockAt + UInt64(total)
        blockOffset = blockAt
        return try readNext()
    }

    /// Finds the frames in the decoded block content; the reason it is unsound, or nil.
    private func splitBlock(_ block: BlockHeader) -> String? {
        let headerSize = JournalFormat.frameHeaderSize
        let content = Int(block.contentLength)
        return blockBuffer.withUnsafeMutableBytes { (raw) -> String? in
            var at = 0
            var position = block.firstPosition
            while at < content {
                guard content - at >= headerSize else { return "block content ends inside a frame header at byte \(at)" }
                let frame: FrameHeader
                do {
                    frame = try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[at..<(at + 60)]), maximumPayload: maximumPayload)
                } catch {
                    return "frame at byte \(at) of the block unreadable (\(error))"
                }
                guard frame.codec == .none, frame.storedLength == frame.payloadLength else {
                    return "frame at byte \(at) of the block is not stored as is"
                }
                let end = at + headerSize + Int(frame.storedLength)
                guard end <= content else { return "frame at byte \(at) of the block runs past the block's content" }
                // The block's CRC covers its frames; theirs is zero (checking it again cost 4 % of a rebuild).
                guard UnsafeRawBufferPointer(raw).getInteger(at: at + 60) as UInt32 == 0 else {
                    return "frame at byte \(at) of the block has a CRC field that is not zero"
                }
                guard frame.firstPosition == position, frame.eventCount >= 1 else {
                    return "frame at byte \(at) of the block starts at position \(frame.firstPosition), expected \(position)"
                }
                if let reason = BlockRecords.decode(UnsafeMutableRawBufferPointer(rebasing: raw[(at + headerSize)..<end]),
                                                    firstPosition: frame.firstPosition, eventCount: frame.eventCount) {
                    return "frame at byte \(at) of the block: \(reason)"
                }
                position += UInt64(frame.eventCount)
                blockFrames.append((frame, (at + headerSize)..<end))
                at = end
            }
            guard !blockFrames.isEmpty, blockFrames.count == Int(block.frameCount), position - block.firstPosition == UInt64(block.eventCount) else {
                return "block header says \(block.frameCount) frames and \(block.eventCount) events, its content holds \(blockFrames.count) frames and \(position - block.firstPosition) events"
            }
            return nil
        }
    }

    /// The block the last `next()` read its frame from, whole and checked, for a `BlockCache`; nil
    /// when that frame was not in a block. The cursor gives the block up: call this last.
    func takeDecodedBlock() -> BlockCache.Block? {
        guard !blockFrames.isEmpty else { return nil }
        if blockBuffer.count > blockContentCount { blockBuffer.removeSubrange(blockContentCount...) }
        let block = BlockCache.Block(content: blockBuffer, frames: blockFrames)
        blockBuffer = []
        blockFrames = []
        nextBlockFrame = 0
        return block
    }

    /// Whether every byte from `start` to the limit is zero: the space a writer preallocated after
    /// the open segment's last frame (FORMAT.md, section 5), which is not a torn write.
    func onlyZeros(from start: UInt64) throws -> Bool {
        var at = start
        while at < limit {
            let want = Int(min(UInt64(chunk), limit - at))
            guard try ensure(at, want) else { return false }
            let zero = buffer.withUnsafeBytes { raw -> Bool in
                var i = Int(at - bufferStart)
                let end = i + want
                // Eight bytes at a time, then the rest.
                while i + 8 <= end {
                    if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
                    i += 8
                }
                while i < end {
                    if raw[i] != 0 { return false }
                    i += 1
                }
                return true
            }
            if !zero { return false }
            at += UInt64(want)
        }
        return true
    }

    /// Looks for any frame or block written whole after `offset` (its CRC holds, whether or not
    /// it then decodes): if there is one, the bad bytes before it are damage in the middle of the
    /// log, not a torn tail.
    ///
    /// Each `RGFR` or `RGBK` is a candidate, and checking one costs what its header claims (up to
    /// a whole frame or block read, checksummed and decoded), so a file can make every few bytes
    /// cost megabytes. A candidate whose claimed bytes run past the file is refused from its
    /// header alone, and this cursor's work on bytes that are not a sound frame, every search
    /// included, is bounded by `searchWorkPerByte` times the file: past that, the search stops
    /// and throws the damage, which it can no longer call a torn tail, so nothing is truncated.
    /// Genuine damage never reaches the bound: each byte is at most checked once as a bad frame,
    /// once as a candidate inside one, once as the sound frame found, and searched once.
    /// `position`, the first position the bad bytes affect, goes into that damage when known.
    func findSoundFrame(after badOffset: UInt64, position: UInt64? = nil) throws -> UInt64? {
        guard badOffset < limit else { return nil }
        let (product, overflow) = Self.searchWorkPerByte.multipliedReportingOverflow(by: limit)
        let budget = overflow ? UInt64.max : product
        var candidate = badOffset + 1
        let magic = JournalFormat.frameMagic
        while candidate + UInt64(JournalFormat.frameHeaderSize) <= limit {
            // Search what the buffer holds; read on only when fewer than 4 bytes of it are left
            // (checking a candidate moves the buffer to it, so asking for a whole chunk from
            // every candidate would read the chunk again each time).
            if candidate < bufferStart || candidate + 4 > bufferStart + UInt64(bufferCount) {
                guard try ensure(candidate, min(chunk, Int(limit - candidate))) else { return nil }
            }
            var searched = 0
            let found: UInt64? = buffer.withUnsafeBytes { raw in
                let start = Int(candidate - bufferStart)
                var i = start
                defer { searched = i - start }
                let end = bufferCount - 3
                while i < end {
                    // `RGFR` or `RGBK`: a frame or a block.
                    if raw[i] == magic[0], raw[i + 1] == magic[1],
                       (raw[i + 2] == magic[2] && raw[i + 3] == magic[3]) || (raw[i + 2] == 0x42 && raw[i + 3] == 0x4B) {
                        return bufferStart + UInt64(i)
                    }
                    i += 1
                }
                return nil
            }
            examinedBytes &+= UInt64(searched)
            unsoundBytes &+= UInt64(searched)
            guard let at = found else {
                let scanned = bufferStart + UInt64(max(bufferCount - 3, 1))
                if scanned <= candidate { return nil }
                candidate = scanned
                continue
            }
            guard unsoundBytes <= budget else {
                throw JournalError.corrupt(JournalDamage(
                    kind: .midSegmentGarbage, file: String(file.path.split(separator: "/").last ?? ""), offset: badOffset, position: position,
                    detail: "bytes that are not a sound frame, followed by so many frame headers that are not frames that the search for a sound frame "
                        + "gave up at byte \(at) after examining \(unsoundBytes) bytes (\(Self.searchWorkPerByte) times the file's \(limit)): "
                        + "not a torn write, and nothing from byte \(at) on was checked"))
            }
            let saved = offset
            seek(to: at)
            let step = try next()
            // A sound frame found here is read again by the caller: that counts as search too.
            if case .frame = step { unsoundBytes &+= offset &- at }
            let checksummed = lastChecksumHeld
            seek(to: saved)
            if case .frame = step { return at }
            // A frame or block whose CRC holds but whose content does not decode was written
            // whole too: what lies before it cannot be the tail of an interrupted write.
            if case .invalid = step, checksummed { return at }
            candidate = at + 1
        }
        return nil
    }
}
