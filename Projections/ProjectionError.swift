import Foundation
import Journal

/// Why a projection could not be built. Each case names where: the position and event id of a
/// bad event, the file and offset of damage, the path of an output that could not be written.
public enum ProjectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Events must be applied in journal order, each exactly once.
    case outOfOrder(expected: UInt64, got: UInt64)
    /// A catalogue event whose data the projections cannot read; the journal should never hold one.
    case invalidEvent(position: UInt64, eventId: UUID, type: String, problem: String)
    /// The journal is damaged or unreadable; the rebuild stops there rather than give a partial result.
    case journal(JournalError)
    /// The rebuild was asked to go further than the journal reaches.
    case journalTooShort(endPosition: UInt64, requested: UInt64)
    case checkpoint(String)
    case output(path: String, reason: String)

    public var description: String {
        switch self {
        case .outOfOrder(let expected, let got):
            "events must be applied in order: expected position \(expected), got \(got)"
        case .invalidEvent(let position, let id, let type, let problem):
            "the event at position \(position) (id \(id.uuidString.lowercased()), type \(type)) cannot be read: \(problem)"
        case .journal(let error):
            "the journal cannot be read: \(error)"
        case .journalTooShort(let end, let requested):
            "the journal ends at position \(end) (it holds \(end) events); position \(requested) was asked for"
        case .checkpoint(let reason):
            "the checkpoint cannot be used: \(reason)"
        case .output(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}
