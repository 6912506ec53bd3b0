import Domain
import Foundation
@testable import Journal

/// A fresh directory under the system temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "audit") {
        path = NSTemporaryDirectory() + "registre-audit-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    var segments: [String] {
        (try! FileManager.default.contentsOfDirectory(atPath: path)).filter { $0.hasSuffix(".seg") }.sorted()
    }

    var checkpointNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + "/checkpoints")) ?? []).filter { $0.hasSuffix(".ckpt") }.sorted()
    }

    func checkpoint(_ name: String) -> Checkpoint { try! Checkpoint(contentsOfFile: path + "/checkpoints/" + name) }

    /// A copy of the whole journal directory, as an auditor would receive it.
    func copy(_ label: String) -> TemporaryDirectory {
        let other = TemporaryDirectory(label)
        try! FileManager.default.removeItem(atPath: other.path)
        try! FileManager.default.copyItem(atPath: path, toPath: other.path)
        return other
    }
}

/// One key for the whole test run, so tests do not pay for key generation.
let testSigner = CheckpointSigner()

/// Segments stay as the writer wrote them unless `packing` is given: most tamper tests edit
/// frames in place; `TamperTests.flippedByteInAPackedSegment` covers packed ones.
func auditOptions(segmentSize: Int = 64 << 20, every: Int = 10, compression: Int32 = 0, packing: SegmentPacking? = nil) -> JournalOptions {
    var o = JournalOptions()
    o.packing = packing
    o.sealedSegmentCheck = .never
    o.segmentSizeLimit = segmentSize
    o.compressionLevel = compression
    o.log = { _ in }
    o.checkpointSigner = testSigner
    o.checkpointEvery = every
    let counter = Counter()
    o.clock = { 1_725_354_000_000_000 + counter.next() * 1000 }
    return o
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64 = 0
    func next() -> Int64 { lock.withLock { value += 1; return value } }
}

// MARK: A valid history, built through the domain's decisions

enum History {
    static func hash(_ n: Int) -> Hash256 {
        let hex = String(n, radix: 16)
        return Hash256(hex: String(repeating: "a", count: 64 - hex.count) + hex)!
    }

    static func uuid(_ n: Int) -> UUID {
        let hex = String(n, radix: 16)
        return UUID(uuidString: "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex)!
    }

    static let release = UTCTime.parse("2024-09-03T09:00:00Z")!

    /// Appends for `slotCount` slots: publication, three bookings, a cancellation and a
    /// reinstatement, visits, one evidence event, and a dossier taken to its hand-over.
    static func appends(slots slotCount: Int) throws -> [AppendRequest] {
        var out: [AppendRequest] = []
        var slots: [UUID: SlotState] = [:]
        var applicants: [IdentityKey: ApplicantState] = [:]
        var dossiers: [UUID: DossierState] = [:]
        func record(_ plan: PlannedAppend) {
            var expected: [String: ExpectedVersion] = [:]
            for (stream, e) in plan.expectedVersions {
                switch e {
                case .any: expected[stream] = .any
                case .noStream: expected[stream] = .noStream
                case .streamExists: expected[stream] = .streamExists
                case .exact(let v): expected[stream] = .exact(v)
                }
            }
            out.append(AppendRequest(events: plan.events.map { ProposedEvent(stream: $0.stream, type: $0.event.typeName, id: UUID(), data: $0.event.encodedData()) },
                                     expectedVersions: expected))
            for planned in plan.events {
                switch StreamName(parsing: planned.stream)! {
                case .slot(_, let id): slots[id]!.apply(planned.event)
                case .applicant(let key): applicants[key, default: ApplicantState(identityKey: key)].apply(planned.event)
                case .dossier(let id): dossiers[id, default: DossierState(dossierId: id)].apply(planned.event)
                case .fingerprint: break
                }
            }
        }
        var identity = 0
        for n in 0..<slotCount {
            let start = release.addingTimeInterval(Double(7 * 86_400 + n * 60))
            let publication = SlotPublished(slotId: uuid(n + 1), site: Site.allCases[n % 3], motif: .filing, category: .student, start: start,
                                            durationMinutes: 20, counter: "guichet 3", capacity: 4, releaseId: uuid(0x9000), occurredAt: release)
            slots[publication.slotId] = SlotState(site: publication.site, slotId: publication.slotId)
            record(try Decide.publish(publication, onto: slots[publication.slotId]!))
            for place in 0..<3 {
                identity += 1
                let key = IdentityKey(hash(identity))
                let appointment = uuid(0x1000_0000 + n * 8 + place)
                record(try Decide.book(appointment, in: slots[publication.slotId]!, for: applicants[key] ?? ApplicantState(identityKey: key),
                                       from: Fingerprint(hash(0x100 + place)), at: release.addingTimeInterval(Double(place))))
                if place == 2 {
                    record(try Decide.cancelByApplicant(appointment, of: applicants[key]!, in: slots[publication.slotId]!, at: release.addingTimeInterval(3600)))
                    record(try Decide.reinstate(appointment, of: applicants[key]!, in: slots[publication.slotId]!, at: release.addingTimeInterval(7200)))
                }
                record(try Decide.checkIn(appointment, of: applicants[key]!, presenting: key, at: start.addingTimeInterval(60)))
            }
            record(try Decide.recordEvidence(.rateLimitTriggered(RateLimitTriggered(
                fingerprint: Fingerprint(hash(0x200 + n)), windowSeconds: 60, limit: 30, observed: 90 + n, occurredAt: release))))
            let dossier = DossierState(dossierId: uuid(0x2000_0000 + n))
            dossiers[dossier.dossierId] = dossier
            record(try Decide.submit(dossier, for: IdentityKey(hash(identity)), category: .student, kind: .first, channel: .online, at: .grenoble, on: release))
            let steps: [DossierStep] = [.declareComplete, .captureBiometrics(at: .grenoble, appointmentId: nil), .decide(.granted), .orderProduction,
                                        .makeAvailable(at: .grenoble), .handOver(at: .grenoble, appointmentId: nil)]
            for (index, step) in steps.enumerated() {
                record(try Decide.advance(dossiers[dossier.dossierId]!, by: step, at: release.addingTimeInterval(Double(index + 1) * 86_400)))
            }
        }
        return out
    }

    /// Writes a valid history into `directory`, signing every `every` events and at close.
    @discardableResult
    static func write(slots: Int, into directory: String, options: JournalOptions = auditOptions()) throws -> UInt64 {
        let journal = try Journal.open(directory: directory, options: options)
        for a in try appends(slots: slots) { _ = try journal.appendAndWait(a) }
        let end = journal.endPosition
        journal.close()
        return end
    }
}

// MARK: A test-only re-writer: a forger who recomputes every CRC, chain hash and index

enum Forger {
    /// Rewrites the journal in `directory` in place with `events` (renumbered, stream versions
    /// recomputed, one frame per append as the writer wrote them), keeping its journal id and its checkpoints: every frame is sound and
    /// `JournalVerifier` finds nothing. Only the signatures can tell.
    static func rewrite(_ directory: String, events input: [RecordedEvent], eventsPerSegment: Int = 60) throws {
        let paths = JournalDirectory(path: directory)
        let journalID = try journalIDOf(paths)
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".seg") {
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        try? FileManager.default.removeItem(atPath: paths.indexDirectory)
        try FileManager.default.createDirectory(atPath: paths.indexDirectory, withIntermediateDirectories: true)
        var versions: [String: UInt64] = [:]
        var chain = Digest32.zero
        var merkle = MerkleFrontier()
        var position: UInt64 = 0
        var k = 0
        while true {
            let segmentFirst = position
            let header = SegmentHeader(journalID: journalID, firstPosition: segmentFirst, previousChainHash: chain, createdAtMicros: 0)
            var file = header.encoded()
            var contents = SegmentIndexContents(firstPosition: segmentFirst, segmentLength: 0, chainHash: chain, lastRecordedAt: .min, merkle: merkle)
            let segmentEnd = min(input.count, k + eventsPerSegment)
            while k < segmentEnd {
                // One frame per append, as the writer made them when appends came one at a time.
                var frameEnd = k
                while frameEnd < segmentEnd - 1, !input[frameEnd].endsAppend { frameEnd += 1 }
                let frameEvents = Array(input[k...frameEnd])
                var payload = ByteWriter()
                let first = position
                for e in frameEvents {
                    let version = versions[e.stream].map { $0 + 1 } ?? 0
                    versions[e.stream] = version
                    RecordCodec.append(position: position, version: version, id: e.id, recordedAtMicros: e.recordedAtMicros,
                                       endsAppend: e.endsAppend, stream: e.stream, type: e.type, metadata: e.metadata, data: e.data, to: &payload)
                    contents.addEvent(position: position, stream: e.stream, version: version, id: e.id)
                    contents.lastRecordedAt = e.recordedAtMicros
                    position += 1
                }
                contents.addFrame(firstPosition: first, offset: UInt64(file.count))
                file += frame(payload.bytes, firstPosition: first, eventCount: UInt32(frameEvents.count), chain: &chain, merkle: &merkle)
                k += frameEvents.count
            }
            try Data(file).write(to: URL(fileURLWithPath: paths.segmentPath(firstPosition: segmentFirst)))
            guard k < input.count else { break }
            contents.segmentLength = UInt64(file.count)
            contents.segmentChecksum = CRC32C.checksum(file)
            contents.chainHash = chain
            contents.merkle = merkle
            try Data(SegmentIndex.encode(contents)).write(to: URL(fileURLWithPath: paths.indexPath(firstPosition: segmentFirst)))
        }
    }

    /// One frame, CRC and chain hash computed as the writer does.
    static func frame(_ payload: [UInt8], firstPosition: UInt64, eventCount: UInt32, chain: inout Digest32, merkle: inout MerkleFrontier) -> [UInt8] {
        let previous = chain
        chain = payload.withUnsafeBytes { FrameHeader.chainHash(previous: previous, firstPosition: firstPosition, eventCount: eventCount, payload: $0) }
        payload.withUnsafeBytes { p in
            try! RecordCodec.forEachRecord(in: p, firstPosition: firstPosition, eventCount: eventCount) { merkle.append(leaf: MerkleHash.leaf($0.record)) }
        }
        let header = FrameHeader(storedLength: UInt32(payload.count), payloadLength: UInt32(payload.count), codec: .none,
                                 firstPosition: firstPosition, eventCount: eventCount, chainHash: chain)
        var bytes = header.encodedWithoutChecksum()
        let crc = CRC32C.checksum(payload, extending: CRC32C.checksum(bytes))
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + payload
    }

    static func journalIDOf(_ paths: JournalDirectory) throws -> UUID {
        let first = try paths.segmentFirstPositions()[0]
        let file = try FileDescriptor.open(paths.segmentPath(firstPosition: first), flags: O_RDONLY)
        return try Journal.readHeader(file, name: "").journalID
    }
}

/// Frame offsets of a segment, walking the frame headers from the segment header on.
func frameOffsets(ofSegment path: String) -> [UInt64] {
    let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
    var offsets: [UInt64] = []
    var at = JournalFormat.segmentHeaderSize
    // Frames, or blocks in a packed segment, up to the end of the file or to the zeros an open
    // segment's writer preallocated.
    while at + JournalFormat.frameHeaderSize <= bytes.count,
          bytes[at..<(at + 4)].elementsEqual("RGFR".utf8) || bytes[at..<(at + 4)].elementsEqual("RGBK".utf8) {
        offsets.append(UInt64(at))
        let stored: UInt32 = bytes.withUnsafeBytes { $0.getInteger(at: at + 4) }
        at += JournalFormat.frameHeaderSize + Int(stored)
    }
    return offsets
}

func modify(_ path: String, _ change: (inout [UInt8]) -> Void) {
    var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
    change(&bytes)
    try! Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// A signed history written in two sittings, with a copy of the journal as it stood after the
/// first `split` appends: the copy is what an operator rolling the journal back would restore.
func historyWithEarlierCopy(_ label: String, slots: Int, split: Int, options: JournalOptions) throws -> (journal: TemporaryDirectory, earlier: TemporaryDirectory, end: UInt64) {
    let dir = TemporaryDirectory(label)
    let appends = try History.appends(slots: slots)
    var journal = try Journal.open(directory: dir.path, options: options)
    for a in appends.prefix(split) { _ = try journal.appendAndWait(a) }
    journal.close()
    let earlier = dir.copy(label + "-before")
    journal = try Journal.open(directory: dir.path, options: options)
    for a in appends.dropFirst(split) { _ = try journal.appendAndWait(a) }
    let end = journal.endPosition
    journal.close()
    return (dir, earlier, end)
}
