import Foundation
import Journal

/// One thing the audit found wrong, located precisely enough to open the file at that byte and
/// argue about it in court: which file, which byte, which position, which event, which rule.
public struct AuditFinding: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A segment (`00000000000000000000.seg`), an index (`index/…`), a checkpoint
    /// (`checkpoints/…`), or the trusted checkpoint's path.
    public var file: String?
    /// Byte offset in `file`: of the damaged bytes, or of the frame holding the event.
    public var offset: UInt64?
    public var position: UInt64?
    public var eventID: UUID?
    /// A domain rule name, exactly as the server reports it (`slot.capacityExceeded`), or one of
    /// the audit's own checks: `journal.<damage>`, `checkpoint.<problem>`, `trusted.<problem>`,
    /// `event.duplicateId`, `event.timeWentBack`.
    public var rule: String
    /// A sentence a person can read.
    public var message: String

    public init(file: String?, offset: UInt64?, position: UInt64?, eventID: UUID?, rule: String, message: String) {
        self.file = file
        self.offset = offset
        self.position = position
        self.eventID = eventID
        self.rule = rule
        self.message = message
    }

    public var description: String {
        var place: [String] = []
        if let file { place.append(file) }
        if let offset { place.append("byte \(offset)") }
        if let position { place.append("position \(position)") }
        if let eventID { place.append("event \(eventID.uuidString.lowercased())") }
        return "\(rule): \(place.isEmpty ? "" : place.joined(separator: " ") + ": ")\(message)"
    }
}

/// Names of the audit's own checks (domain rules keep `RuleName`'s raw values).
public enum AuditCheck {
    public static func journal(_ kind: JournalDamage.Kind) -> String { "journal." + kind.rawValue }
    public static let duplicateEventID = "event.duplicateId"
    public static let timeWentBack = "event.timeWentBack"
    public static let badSignature = "checkpoint.badSignature"
    public static let unreadableCheckpoint = "checkpoint.unreadable"
    public static let foreignCheckpoint = "checkpoint.otherJournal"
    public static let checkpointBeyondEnd = "checkpoint.beyondEnd"
    public static let checkpointMismatch = "checkpoint.mismatch"
    public static let checkpointNotAtFrameEnd = "checkpoint.notAtFrameEnd"
    public static let trustedRolledBack = "trusted.rolledBack"
    public static let trustedRewritten = "trusted.rewritten"
    public static let trustedOtherJournal = "trusted.otherJournal"
    public static let trustedBadSignature = "trusted.badSignature"
    /// The journal holds events, a public key was given, and no checkpoint it signed covers any.
    public static let noSignedCheckpoint = "checkpoint.none"
}
