import Foundation
@testable import Journal

/// A fresh directory under the system temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "journal") {
        path = NSTemporaryDirectory() + "registre-test-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func segmentFiles() -> [String] {
        (try! FileManager.default.contentsOfDirectory(atPath: path)).filter { $0.hasSuffix(".seg") }.sorted()
    }
}

func json(_ text: String) -> [UInt8] { Array(text.utf8) }

func event(_ stream: String, _ type: String = "Happened", id: UUID? = nil, data: String = #"{"n":1}"#) -> ProposedEvent {
    ProposedEvent(stream: stream, type: type, id: id, data: json(data))
}

/// Options that keep tests quiet and fast: a pinned clock and small segments when asked.
///
/// Packing is off unless asked for: most tests look at sealed segments byte by byte, as the
/// writer wrote them; `SegmentPackingTests` covers packed ones.
func testOptions(segmentSize: Int = 64 << 20, durability: Durability = .durable, check: SealedSegmentCheck = .beforeOpening,
                 packing: SegmentPacking? = nil) -> JournalOptions {
    var o = JournalOptions()
    o.packing = packing
    o.sealedSegmentCheck = check
    o.segmentSizeLimit = segmentSize
    o.durability = durability
    o.log = { _ in }
    let counter = Counter()
    o.clock = { 1_700_000_000_000_000 + counter.next() }
    return o
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64 = 0
    func next() -> Int64 { lock.withLock { value += 1; return value } }
}

extension Journal {
    @discardableResult
    func append(_ events: [ProposedEvent], expecting: [String: ExpectedVersion] = [:]) throws -> AppendResult {
        try appendAndWait(AppendRequest(events: events, expectedVersions: expecting))
    }
}

/// Fills a journal with `count` events over `streams` streams, `perAppend` at a time.
func fill(_ journal: Journal, count: Int, streams: Int = 7, perAppend: Int = 5) throws {
    var i = 0
    while i < count {
        let n = min(perAppend, count - i)
        try journal.append((0..<n).map { k in event("s-\((i + k) % streams)", "T\((i + k) % 3)", data: #"{"i":\#(i + k),"pad":"\#(String(repeating: "x", count: (i + k) % 50))"}"#) })
        i += n
    }
}

/// Where the frames of a segment file written as is (not packed) end: the first offset that does
/// not start a frame, i.e. where the writer's preallocated zeros begin in an open segment.
func endOfFrames(_ path: String) throws -> Int {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var at = JournalFormat.segmentHeaderSize
    while at + JournalFormat.frameHeaderSize <= data.count, data[at..<(at + 4)].elementsEqual("RGFR".utf8) {
        at += JournalFormat.frameHeaderSize + Int(data.getInteger(at: at + 4, as: UInt32.self))
    }
    return at
}

/// A SplitMix64 generator for seeded damage tests: the same seed gives the same rounds on every run.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// The offsets of a segment's frames, walked from its header.
func frameOffsets(_ bytes: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var at = JournalFormat.segmentHeaderSize
    while at + 64 <= bytes.count, bytes[at..<(at + 4)].elementsEqual("RGFR".utf8) {
        offsets.append(at)
        at += 64 + Int(bytes.getInteger(at: at + 4, as: UInt32.self))
    }
    return offsets
}

/// Rewrites the CRC32C of the frame at `offset` (header bytes 0..<60, then its stored bytes),
/// when the stored length it now says still lies inside the file: hostile-content tests get past
/// the checksum to the fields behind it.
func resealFrame(_ bytes: inout [UInt8], at offset: Int) {
    let stored = Int(bytes.getInteger(at: offset + 4, as: UInt32.self))
    guard offset + 64 + stored <= bytes.count else { return }
    var crc = CRC32C.checksum(Array(bytes[offset..<(offset + 60)]))
    crc = CRC32C.checksum(Array(bytes[(offset + 64)..<(offset + 64 + stored)]), extending: crc)
    withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + 60 + i] = b } }
}
