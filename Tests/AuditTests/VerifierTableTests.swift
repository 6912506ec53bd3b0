import Domain
import Foundation
import Testing
@testable import Audit
@testable import Journal

/// The compact structures that keep the audit's integrity pass fast: stream versions looked up
/// by bytes, and the radix sort behind the duplicate-id check.
@Suite("Verification tables")
struct VerifierTableTests {
    @Test("every stream name gets one slot of its own, kept as the table grows, with its name")
    func streamSlots() {
        var table = StreamVersionTable()
        let names = (0..<20_000).map { i in i % 3 == 0 ? "applicant-\(i)" : i % 3 == 1 ? "slot-grenoble-\(UUID())" : "s\(i)" } + ["", "é"]
        var slots: [Int] = []
        for name in names {
            slots.append(Array(name.utf8).withUnsafeBytes { table.slot(of: $0) })
        }
        #expect(Set(slots).count == names.count, "two names share a slot")
        #expect(slots == Array(0..<names.count), "slots are dense, in order of first appearance")
        #expect(table.count == names.count)
        for (name, slot) in zip(names, slots) {
            #expect(Array(name.utf8).withUnsafeBytes { table.slot(of: $0) } == slot)
            #expect(table.name(ofSlot: slot) == name)
        }
        table.setNextVersion(7, ofSlot: slots[5])
        #expect(table.nextVersion(ofSlot: slots[5]) == 7)
        #expect(table.nextVersion(ofSlot: slots[6]) == 0)
        // A prefix of a known name is another stream.
        #expect(Array("applicant-".utf8).withUnsafeBytes { table.slot(of: $0) } == names.count)
    }

    @Test("the values found repeated are exactly those a sort finds next to themselves, zero and extremes included")
    func repeatedValues() {
        func bySorting(_ values: [UInt64]) -> Set<UInt64> {
            let sorted = values.sorted()
            return Set(zip(sorted, sorted.dropFirst()).filter { $0 == $1 }.map(\.0))
        }
        var rng = SystemRandomNumberGenerator()
        var values = (0..<100_000).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
        values += values.prefix(500) + values.prefix(3) + [0, 0, .max, .max, 1 << 63]
        values.shuffle()
        let found = EventIDLedger.repeatedValues(values)
        #expect(found.count == 502)
        #expect(found == bySorting(values))
        #expect(found.isSuperset(of: [0, .max]) && !found.contains(1 << 63))
        // Values that differ only in their low or high bits, as crafted ids might.
        let close = (0..<20_000).map { UInt64($0) } + (0..<20_000).map { UInt64($0) << 44 } + [5, 7 << 44, 0]
        #expect(EventIDLedger.repeatedValues(close) == bySorting(close))
        #expect(EventIDLedger.repeatedValues([3, 1, 2]) == [])
        #expect(EventIDLedger.repeatedValues([3, 1, 3]) == [3])
        #expect(EventIDLedger.repeatedValues([0]) == [] && EventIDLedger.repeatedValues([]) == [])
    }

    @Test("a stream version that skips or repeats is found, naming the stream and the version expected")
    func versionGaps() throws {
        let dir = TemporaryDirectory("version-gap")
        // s-a: 0, 1, 3 (skips 2); s-b: 0, 0 (repeats); s-c: 0, 1 (sound).
        let events: [(String, UInt64)] = [("s-a", 0), ("s-b", 0), ("s-a", 1), ("s-c", 0), ("s-a", 3), ("s-b", 0), ("s-c", 1)]
        try writeSingleSegment(dir.path, events: events)
        let report = try JournalVerifier.verify(directory: dir.path)
        let gaps = report.findings.filter { $0.kind == .streamVersionGap }
        #expect(gaps.count == 2, "\(report.findings)")
        #expect(gaps.contains { $0.position == 4 && $0.detail.contains("stream 's-a'") && $0.detail.contains("version 3") && $0.detail.contains("expected 2") }, "\(gaps)")
        #expect(gaps.contains { $0.position == 5 && $0.detail.contains("stream 's-b'") && $0.detail.contains("expected 1") }, "\(gaps)")
        #expect(report.eventCount == 7)
    }

    @Test("a sealed segment's index that sends an event id or a stream version elsewhere is a finding")
    func forgedIndex() throws {
        let dir = TemporaryDirectory("forged-index")
        try History.write(slots: 3, into: dir.path, options: auditOptions(segmentSize: 6_000))
        #expect(dir.segments.count >= 3)
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        let events = try JournalReader(directory: dir.path).read()
        let first = try #require(try JournalDirectory(path: dir.path).segmentFirstPositions().first)
        let second = try JournalDirectory(path: dir.path).segmentFirstPositions()[1]
        let indexPath = JournalDirectory(path: dir.path).indexPath(firstPosition: first)
        let original = try SegmentIndex(path: indexPath, name: "index")
        // The index rebuilt from the segment's own events, with two of them exchanged: still a
        // well-formed index with a sound checksum, but it no longer describes the log.
        var contents = SegmentIndexContents(firstPosition: first, segmentLength: original.segmentLength, chainHash: original.chainHash,
                                            lastRecordedAt: original.lastRecordedAt, merkle: original.merkle)
        contents.segmentChecksum = original.segmentChecksum
        for i in 0..<original.frameCount { contents.addFrame(firstPosition: original.frameEntry(i).firstPosition, offset: original.frameEntry(i).offset) }
        let segment = events.filter { $0.position >= first && $0.position < second }
        for e in segment {
            // Event 1 is given event 2's id and stream version, and event 2 event 1's.
            let source = e.position == first + 1 ? segment[2] : e.position == first + 2 ? segment[1] : e
            contents.addEvent(position: e.position, stream: source.stream, version: source.version, id: source.id)
        }
        try Data(SegmentIndex.encode(contents)).write(to: URL(fileURLWithPath: indexPath))
        let report = try JournalVerifier.verify(directory: dir.path)
        let bad = report.findings.filter { $0.kind == .badIndex }
        #expect(bad.contains { $0.detail.contains("event id \(segment[1].id.uuidString) at position \(first + 1) is not found through the index") }, "\(bad)")
        #expect(bad.contains { $0.detail.contains("stream '\(segment[1].stream)' version \(segment[1].version) does not lead to position \(first + 1)") }, "\(bad)")
        #expect(bad.allSatisfy { $0.file == "index/" + JournalFormat.indexName(firstPosition: first) })
    }
}

/// One segment holding one event per frame, with the given streams and versions exactly.
func writeSingleSegment(_ directory: String, events: [(stream: String, version: UInt64)]) throws {
    let header = SegmentHeader(journalID: UUID(), firstPosition: 0, previousChainHash: .zero, createdAtMicros: 0)
    var file = header.encoded()
    var chain = Digest32.zero
    var merkle = MerkleFrontier()
    for (position, e) in events.enumerated() {
        var payload = ByteWriter()
        RecordCodec.append(position: UInt64(position), version: e.version, id: UUID(), recordedAtMicros: 1_000 + Int64(position), endsAppend: true,
                           stream: e.stream, type: "Happened", metadata: [], data: Array("{}".utf8), to: &payload)
        file += Forger.frame(payload.bytes, firstPosition: UInt64(position), eventCount: 1, chain: &chain, merkle: &merkle)
    }
    try Data(file).write(to: URL(fileURLWithPath: JournalDirectory(path: directory).segmentPath(firstPosition: 0)))
}

@Suite("Rule replay over record bytes")
struct RuleBytesTests {
    @Test("checking by UTF-8 bytes reaches the verdicts of checking by strings, breaches and malformed input included")
    func bytesAndStringsAgree() throws {
        var entries: [(stream: String, type: String, data: [UInt8])] = []
        for append in try History.appends(slots: 4) {
            for e in append.events { entries.append((e.stream, e.type, e.data)) }
        }
        // A second publication of the first slot, a booking replayed, an unknown type, a stream
        // of no known kind, data that is not JSON, and the same unknown type again (from the cache).
        entries.append(entries[0])
        entries.append(try #require(entries.first { $0.type == "AppointmentBooked" }))
        entries.append((entries[0].stream, "SlotTeleported", Array("{}".utf8)))
        entries.append(("lunch-menu", entries[0].type, entries[0].data))
        entries.append((entries[0].stream, entries[0].type, Array("{not json".utf8)))
        entries.append((entries[0].stream, "SlotTeleported", Array("{}".utf8)))
        var byString = RuleChecker(), byBytes = RuleChecker()
        var found: [[RuleViolation]] = []
        for (position, e) in entries.enumerated() {
            let expected = byString.check(stream: e.stream, type: e.type, data: e.data, position: UInt64(position))
            let actual = Array(e.stream.utf8).withUnsafeBufferPointer { stream in
                Array(e.type.utf8).withUnsafeBufferPointer { type in
                    e.data.withUnsafeBufferPointer { byBytes.check(streamUTF8: stream, typeUTF8: type, data: $0, position: UInt64(position)) }
                }
            }
            #expect(actual == expected, "position \(position): \(e.stream) \(e.type)")
            found.append(actual)
        }
        let clean = found.prefix(entries.count - 6).allSatisfy { $0.isEmpty }
        let caught = found.suffix(6).allSatisfy { !$0.isEmpty }
        #expect(clean, "the valid history breaks no rule")
        #expect(caught, "every breach is found: \(found.suffix(6))")
        #expect(byBytes.eventsChecked == entries.count)
    }
}

@Suite("Index check order")
struct IndexCheckOrderTests {
    @Test("the lookup order is a permutation sorted by the hashes' top 16 bits")
    func hashOrder() {
        var rng = SystemRandomNumberGenerator()
        let hashes = (0..<50_000).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) } + [0, .max, 1 << 48, 1 << 48]
        let order = JournalVerifier.hashOrder(hashes)
        #expect(order.sorted() == Array(hashes.indices))
        #expect(zip(order, order.dropFirst()).allSatisfy { hashes[$0] >> 48 <= hashes[$1] >> 48 })
        #expect(JournalVerifier.hashOrder([]).isEmpty)
    }
}
