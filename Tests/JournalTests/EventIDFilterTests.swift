import Foundation
import Testing
@testable import Journal

/// The id filter may let an absent id through, never turn a committed one away: idempotency and
/// uniqueness stay exact whatever the filters say.
@Suite struct EventIDFilterTests {
    @Test func everyKeyFedIsFoundAndFewAbsentOnesPass() {
        var rng = SystemRandomNumberGenerator()
        let present = (0..<100_000).map { _ in rng.next() as UInt64 }
        let filter = EventIDFilter(count: present.count) { insert in present.forEach(insert) }
        #expect(present.allSatisfy { filter.mayContain($0) })
        let absent = (0..<100_000).map { _ in rng.next() as UInt64 }
        let passed = absent.filter { filter.mayContain($0) }.count
        #expect(passed < 500, "\(passed) of 100,000 absent keys passed, more than 0.5 %")
        // Keys are the low 32 bits, as the index files store them.
        #expect(present.allSatisfy { filter.mayContain(UInt64(UInt32(truncatingIfNeeded: $0)) | 0xABCD_0000_0000_0000) })
    }

    @Test func anEmptyFilterHoldsNothing() {
        let filter = EventIDFilter(count: 0) { _ in }
        #expect(!(0..<1000).contains { filter.mayContain(UInt64($0) &* 0x9E37_79B9_7F4A_7C15) })
    }

    @Test func retriesOfIdsInSealedSegmentsAreRecognisedBeforeAndAfterTheFilterIsBuilt() throws {
        let dir = TemporaryDirectory("idfilter")
        var appends: [[ProposedEvent]] = []
        do {
            let j = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 4_000))
            for k in 0..<150 {
                let batch = [event("s-\(k % 9)", id: UUID(), data: #"{"k":\#(k),"pad":"\#(String(repeating: "p", count: 40))"}"#)]
                appends.append(batch)
                try j.append(batch)
            }
            // Segments sealed while open are filtered at once.
            #expect(j.lock.withLock { j.idFilters.count } == j.segmentCount - 1)
            #expect(try j.append(appends[3]).wasAlreadyCommitted)
            j.close()
        }
        for check in [SealedSegmentCheck.inBackground, .beforeOpening] {
            var options = testOptions(segmentSize: 4_000)
            options.sealedSegmentCheck = check
            let j = try Journal.open(directory: dir.path, options: options)
            #expect(j.segmentCount > 5)
            // Right away (the filter may still be building), then once it covers every segment.
            #expect(try j.append(appends[0]).wasAlreadyCommitted)
            var waited = 0
            while j.lock.withLock({ j.idFilterCoversFrom }) != 0 && waited < 3_000 { usleep(1_000); waited += 1 }
            #expect(j.lock.withLock { j.idFilterCoversFrom } == 0)
            for batch in appends {
                let again = try j.append(batch)
                #expect(again.wasAlreadyCommitted)
                #expect(try j.event(id: batch[0].id!)?.position == again.firstPosition)
            }
            let fresh = try j.append([event("s-new", id: UUID())])
            #expect(!fresh.wasAlreadyCommitted)
            j.close()
        }
    }
}
