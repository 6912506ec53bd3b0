import Domain
import Foundation
import Journal
import Testing
@testable import Projections

@Suite("Copies of multi-stream events")
struct CopyDetectorTests {
    @Test("the rebuild counts second copies without reading them and ends in the state that reading every record in full gives")
    func rebuildEqualsFullReading() throws {
        let dir = TemporaryDirectory("copies")
        let events = try combinedHistory().write(to: dir.path)
        let rebuilt = try ProjectionRebuild.rebuild(journal: dir.path)
        var applied = ProjectionSet()
        for event in try JournalReader(directory: dir.path).read() { try applied.apply(event) }
        #expect(applied.position == UInt64(events.count))
        #expect(rebuilt == applied)
        #expect((rebuilt.eventCounts()[AppointmentBooked.typeName] ?? 0) >= 2)
    }

    @Test("only a record of a copied type with the same bytes as the one just before it, in the same append, is a copy")
    func onlyExactCopies() {
        let first = Array(#"{"schemaVersion":1,"appointmentId":"a"}"#.utf8)
        let other = Array(#"{"schemaVersion":1,"appointmentId":"b"}"#.utf8)
        var copies = CopyDetector()
        first.withUnsafeBytes { first in
            other.withUnsafeBytes { other in
                #expect(!copies.isCopy(.appointmentBooked, first))
                copies.remember(.appointmentBooked, first, endsAppend: false)
                #expect(copies.isCopy(.appointmentBooked, first))
                #expect(!copies.isCopy(.appointmentBooked, other))
                #expect(!copies.isCopy(.appointmentReinstated, first))
                // The append ends: the next append's record is never a copy of this one.
                copies.remember(.appointmentBooked, first, endsAppend: true)
                #expect(!copies.isCopy(.appointmentBooked, first))
                // Types written to one stream only are never copies.
                copies.remember(.dossierSubmitted, first, endsAppend: false)
                #expect(!copies.isCopy(.dossierSubmitted, first))
                // A record in between breaks the pair.
                copies.remember(.appointmentBooked, first, endsAppend: false)
                copies.remember(nil, other, endsAppend: false)
                #expect(!copies.isCopy(.appointmentBooked, first))
            }
        }
    }
}
