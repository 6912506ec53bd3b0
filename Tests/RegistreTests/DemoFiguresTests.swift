import Domain
import Foundation
import Testing
@testable import registre

@Suite struct DemoFiguresTests {
    @Test func refusedDecisionsFailTheDemoWithTheFirstOne() throws {
        #expect(DemoFigures.refusalFailure(refused: 0, first: nil) == nil)
        let failure = try #require(DemoFigures.refusalFailure(refused: 3, first: "2024-05-02T09:00:00.000Z: slot.capacityExceeded"))
        #expect(failure.contains("3 decisions the domain refused") && failure.contains("first: 2024-05-02T09:00:00.000Z: slot.capacityExceeded"), "\(failure)")
    }
}
