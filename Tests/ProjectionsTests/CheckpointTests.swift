import Domain
import Foundation
import Journal
import Testing
@testable import Projections

/// Every scenario of the suite in one journal: slots, dossiers and a bot burst.
func combinedHistory() throws -> History {
    let all = History()
    for part in [try SlotScenario().history, try DossierScenario().history, try AbuseSignalsTests.botBurst()] {
        all.plans += part.plans
    }
    return all
}

@Suite("Checkpoints and as-of")
struct CheckpointTests {
    @Test("resuming from a saved checkpoint gives exactly the state of a rebuild from zero, wherever the cut falls")
    func resumeEqualsRebuild() throws {
        let dir = TemporaryDirectory("checkpoint")
        let events = try combinedHistory().write(to: dir.path)
        let full = try ProjectionRebuild.rebuild(journal: dir.path)
        #expect(full.position == UInt64(events.count))
        // Cuts inside appends (between the two copies of a booking) as well as between them.
        let cuts = [0, 1, 7, 8, 9, events.count / 2, events.count / 2 + 1, events.count - 1, events.count]
        for cut in cuts {
            var partial = try ProjectionRebuild.rebuild(journal: dir.path, limit: .beforePosition(UInt64(cut)))
            #expect(partial.position == UInt64(cut))
            let saved = try JSONEncoder().encode(partial)
            partial = try JSONDecoder().decode(ProjectionSet.self, from: saved)
            try ProjectionRebuild.fold(journal: dir.path, into: &partial)
            #expect(partial == full, "resumed from \(cut)")
            #expect(partial.abuseRanking() == full.abuseRanking())
            #expect(partial.delays(groupBy: .categorySiteMonth) == full.delays(groupBy: .categorySiteMonth))
        }
    }

    @Test("the checkpoint's binary form reads back to an equal state, at every cut, and resuming from it equals a rebuild")
    func binaryFormRoundTrips() throws {
        let dir = TemporaryDirectory("checkpoint-binary")
        let events = try combinedHistory().write(to: dir.path)
        let full = try ProjectionRebuild.rebuild(journal: dir.path)
        for cut in [0, 1, 8, events.count / 3, events.count - 1, events.count] {
            let partial = try ProjectionRebuild.rebuild(journal: dir.path, limit: .beforePosition(UInt64(cut)))
            var bytes: [UInt8] = []
            try BinaryCoder.encode(partial, into: &bytes)
            var back = try bytes.withUnsafeBytes { try BinaryCoder.decode(ProjectionSet.self, from: $0) }
            #expect(back == partial, "cut at \(cut)")
            try ProjectionRebuild.fold(journal: dir.path, into: &back)
            #expect(back == full, "resumed from \(cut)")
            // Read through a window of 7 bytes, values straddle every refill: the same state.
            let windowed = try bytes.withUnsafeBytes { all in
                let source = BinarySource(length: all.count, chunk: 7) { offset, count in UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)]) }
                return try BinaryCoder.decode(ProjectionSet.self, from: source)
            }
            #expect(windowed == partial, "windowed, cut at \(cut)")
            // Cut short anywhere, the form is refused rather than read as something else.
            if bytes.count > 10 {
                #expect(throws: (any Error).self) { try bytes.prefix(bytes.count - 3).withUnsafeBytes { try BinaryCoder.decode(ProjectionSet.self, from: $0) } }
            }
        }
    }

    @Test("the checksum of a checkpoint changes with any one flipped bit and does not depend on how the bytes were split")
    func checksumProperties() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var whole = Checksum64()
        whole.update(bytes)
        var pieces = Checksum64()
        for range in [0..<3, 3..<11, 11..<500, 500..<1000] { pieces.update(bytes[range]) }
        #expect(whole.value == pieces.value)
        for bit in stride(from: 0, to: 8000, by: 97) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            var sum = Checksum64()
            sum.update(flipped)
            #expect(sum.value != whole.value, "bit \(bit)")
        }
        var shorter = Checksum64()
        shorter.update(bytes.dropLast())
        #expect(shorter.value != whole.value)
    }

    @Test("sizes count exactly what the answers list")
    func sizesMatchAnswers() throws {
        let dir = TemporaryDirectory("sizes")
        try combinedHistory().write(to: dir.path)
        let set = try ProjectionRebuild.rebuild(journal: dir.path)
        let sizes = set.sizes
        #expect(sizes.slots == set.slotAvailability.allSlots().count)
        #expect(sizes.releases == set.releases().count)
        #expect(sizes.dossiers == set.dossierBoard.allDossiers().count)
        #expect(sizes.fingerprints == set.allFingerprints().count)
        #expect(sizes.flaggedFingerprints == set.abuseRanking(limit: .max).count)
        #expect(sizes.flaggedFingerprints > 0, "the bot burst is flagged")
    }

    @Test("as of a position or a time gives exactly the state folded from the events before it")
    func asOfIsAPrefix() throws {
        let dir = TemporaryDirectory("as-of")
        let events = try combinedHistory().write(to: dir.path)
        for cut in [3, 20, events.count / 3, events.count - 2] {
            var byHand = ProjectionSet()
            for event in events.prefix(cut) { try byHand.apply(event) }
            #expect(try ProjectionRebuild.rebuild(journal: dir.path, limit: .beforePosition(UInt64(cut))) == byHand)
            // The pinned clock commits each append one second after the last: as of the commit time
            // of the last event before the cut, the rebuild stops at the end of that append.
            let time = events[cut - 1].recordedAt
            let appendEnd = events[(cut - 1)...].firstIndex { $0.endsAppend }! + 1
            var untilAppendEnd = ProjectionSet()
            for event in events.prefix(appendEnd) { try untilAppendEnd.apply(event) }
            #expect(try ProjectionRebuild.rebuild(journal: dir.path, limit: .asOf(time)) == untilAppendEnd)
        }
        #expect(throws: ProjectionError.journalTooShort(endPosition: UInt64(events.count), requested: UInt64(events.count + 5))) {
            try ProjectionRebuild.rebuild(journal: dir.path, limit: .beforePosition(UInt64(events.count + 5)))
        }
    }

    @Test("a live set fed event by event equals the offline rebuild, and refuses events out of order")
    func liveFeed() throws {
        let dir = TemporaryDirectory("live")
        let events = try combinedHistory().write(to: dir.path)
        var live = ProjectionSet()
        for event in events {
            let decoded = try DomainEvent.decode(type: event.type, data: event.data, eventIndex: 0)
            try live.apply(decoded, stream: event.stream, id: event.id, position: event.position, recordedAtMicros: event.recordedAtMicros, endsAppend: event.endsAppend)
        }
        #expect(live == (try ProjectionRebuild.rebuild(journal: dir.path)))
        #expect(throws: ProjectionError.outOfOrder(expected: UInt64(events.count), got: 0)) { try live.apply(events[0]) }
    }
}
