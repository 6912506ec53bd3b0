/// The streams an event may be appended to: one to three, held inline.
///
/// An array would do, but the audit asks every replayed event where it belongs, and an array
/// is a heap allocation each time; no event of the catalogue has more than three homes (a
/// reschedule: both slots and the applicant).
public struct StreamHomes: RandomAccessCollection, Sendable, Equatable {
    private let first_: StreamName
    private let second: StreamName?
    private let third: StreamName?
    public let count: Int

    public init(_ first: StreamName, _ second: StreamName? = nil, _ third: StreamName? = nil) {
        precondition(second != nil || third == nil, "homes are listed without gaps")
        first_ = first
        self.second = second
        self.third = third
        count = third != nil ? 3 : second != nil ? 2 : 1
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> StreamName {
        precondition(position >= 0 && position < count, "index out of range")
        switch position {
        case 0: return first_
        case 1: return second!
        default: return third!
        }
    }

    /// Whether `stream` is one of the homes, without building anything.
    public func contains(_ stream: StreamName) -> Bool {
        first_ == stream || second == stream || third == stream
    }
}
