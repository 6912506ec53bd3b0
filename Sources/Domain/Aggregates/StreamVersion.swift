/// Counts events folded into an aggregate. Versions count from 0, so an aggregate that has seen
/// nothing has no version at all: its stream does not exist yet.
extension Optional where Wrapped == UInt64 {
    var advanced: UInt64 { map { $0 + 1 } ?? 0 }

    /// The expected version that guards an append against anything written since this fold.
    var expectation: ExpectedStreamVersion { map { .exact($0) } ?? .noStream }
}
