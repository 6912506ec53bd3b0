import Foundation

enum DemoFigures {
    /// The line that fails the demo when the simulation asked the domain for decisions it
    /// refused (a simulator bug: the history then lacks what those decisions would have written),
    /// as `registre simulate` fails; `nil` when there were none.
    static func refusalFailure(refused: Int, first: String?) -> String? {
        guard refused > 0 else { return nil }
        return "the simulation made \(refused) decisions the domain refused (a simulator bug, nothing was written for them); first: \(first ?? "?")"
    }
}
