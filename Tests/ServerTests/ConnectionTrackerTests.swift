import Foundation
import Testing
@testable import Server

@Suite struct ConnectionTrackerTests {
    @Test func refusalsAreLoggedAtMostOnceASecondWithTheCountSinceTheLastLine() {
        let tracker = ConnectionTracker()
        let start = ContinuousClock.now
        #expect(tracker.noteRefusal(now: start) == 1)
        for k in 1...3 { #expect(tracker.noteRefusal(now: start + .milliseconds(100 * k)) == nil) }
        #expect(tracker.noteRefusal(now: start + .milliseconds(1100)) == 4, "the three held back and this one")
        #expect(tracker.noteRefusal(now: start + .milliseconds(1200)) == nil)
    }
}
