import Foundation

/// The tunable parts of the rules. The server, the importer and the audit must use the same
/// values, or the audit would report breaches the server allowed.
public struct RuleParameters: Sendable, Equatable {
    /// How long before the start an applicant may still cancel or reschedule; later, only the service can.
    public var applicantCancellationCutOff: TimeInterval
    /// CESEDA R.432-2: silence this many months after a complete filing counts as an implicit rejection.
    public var implicitRejectionMonths: Int

    public init(applicantCancellationCutOff: TimeInterval = 24 * 3600, implicitRejectionMonths: Int = 4) {
        self.applicantCancellationCutOff = applicantCancellationCutOff
        self.implicitRejectionMonths = implicitRejectionMonths
    }

    public static let standard = RuleParameters()
}
