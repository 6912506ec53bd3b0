import Foundation
import Testing
import Domain
import Simulator

@Suite struct RuleComplianceTests {
    @Test func replayThroughTheRuleCheckerFindsNoViolation() {
        let run = SharedRuns.twoYears
        #expect(run.summary.refusedDecisions == 0, "\(run.summary.firstRefusal ?? "")")
        var checker = RuleChecker()
        var violations: [RuleViolation] = []
        var position: UInt64 = 0
        for append in run.appends {
            for event in append.events {
                violations += checker.check(stream: event.stream, type: event.type, data: event.data, position: position)
                position += 1
            }
        }
        #expect(position == run.summary.events)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
    }

    @Test func everyAppendIsValidAsTheServerWouldCheckIt() {
        let appends = SharedRuns.twoYears.appends
        var checked = 0
        for append in appends {
            let problems = validateAppend(append.events.map { (stream: $0.stream, type: $0.type, data: $0.data) })
            #expect(problems.isEmpty, "append \(checked): \(problems)")
            if !problems.isEmpty { break }
            checked += 1
        }
        #expect(checked == appends.count, "\(checked) of \(appends.count) appends checked")
    }

    @Test func everyKindOfApplicantBehaviourAppears() {
        let summary = SharedRuns.twoYears.summary
        #expect(summary.applicantCancellations > 0)
        #expect(summary.reinstatements > 0)
        #expect(summary.reschedules > 0)
        #expect(summary.noShows > 0)
        #expect(summary.serviceCancellations > 0)
        #expect(summary.permitsRefused > 0)
        let types = Set(SharedRuns.twoYears.appends.flatMap { $0.events.map(\.type) })
        for type in ["DocumentsRequested", "DocumentsReceived", "ProvisionalPermitIssued", "BiometricsCaptured", "ConsultationRequested",
                     "ConsultationAnswered", "PermitHandedOver", "DossierClosedForNoFollowUp", "DossierWithdrawn",
                     "ImplicitRejectionDeadlineReached", "SlotWithdrawn", "BookingAttemptsRejected", "IdentityMismatchAtCounter"] {
            #expect(types.contains(type), "no \(type) in the history")
        }
    }
}
