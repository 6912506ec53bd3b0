import Domain
import Foundation
import Journal

/// `POST /commands/...`: the booking commands and the dossier steps, each a JSON body of named
/// fields (docs/SERVER.md lists them). `occurredAt` is optional everywhere and defaults to the
/// server's clock; when given, it must be within the business clock's tolerance.
struct CommandEndpoints: Sendable {
    let service: CommandService

    static let dossierSteps = [
        "submit", "request-documents", "receive-documents", "declare-complete", "issue-provisional-permit",
        "capture-biometrics", "request-consultation", "answer-consultation", "decide", "order-production",
        "make-available", "hand-over", "withdraw", "close-for-no-follow-up", "reach-implicit-rejection-deadline",
    ]

    /// The async form, for callers outside an event loop.
    func handle(_ path: [String], body: [UInt8], permissions: Permissions) async -> ServerResponse {
        await withCheckedContinuation { continuation in
            handle(path, body: body, permissions: permissions, resume: .inPlace) { continuation.resume(returning: $0) }
        }
    }

    /// Parses the command's fields and runs it; `done` is called exactly once (see `CommandService.run`).
    func handle(_ path: [String], body: [UInt8], permissions: Permissions, resume: ResumePoint,
                done: @escaping @Sendable (ServerResponse) -> Void) {
        let answer = Answer(resume: resume, done: done)
        switch path {
        case ["book"]: book(body, permissions, answer)
        case ["cancel"]: cancel(body, permissions, answer)
        case ["reinstate"]: reinstate(body, permissions, answer)
        case ["check-in"]: checkIn(body, permissions, answer)
        case let p where p.count == 2 && p[0] == "dossier" && Self.dossierSteps.contains(p[1]):
            dossier(p[1], body, permissions, answer)
        default:
            done(.notFound("no command at /commands/\(path.joined(separator: "/").prefix(80)); commands: book, cancel, reinstate, check-in, dossier/{\(Self.dossierSteps.joined(separator: ","))}"))
        }
    }

    /// Where and to whom a command answers.
    struct Answer: Sendable {
        let resume: ResumePoint
        let done: @Sendable (ServerResponse) -> Void
    }

    private func invalid(_ f: CommandFields) -> ServerResponse { RequestProblem.response(f.problems) }

    private func book(_ body: [UInt8], _ permissions: Permissions, _ answer: Answer) {
        var f = CommandFields(body, allowed: ["site", "slotId", "identityKey", "fingerprint", "appointmentId", "occurredAt", "commandId"])
        let site = f.member("site", of: Site.self), slotId = f.uuid("slotId"), identity = f.identityKey("identityKey")
        let fingerprint = f.fingerprint("fingerprint"), givenAppointmentId = f.uuid("appointmentId", required: false)
        let time = f.date("occurredAt", required: false) ?? Date(), command = f.commandKey()
        guard f.isValid, let site, let slotId, let identity, let fingerprint else { return answer.done(invalid(f)) }
        // A booking's ids follow from its appointment id, and with a `commandId` the appointment
        // id follows from it: the booking is then found from the command id alone, so that
        // command id cannot name another booking or command. (A booking has one retry key.)
        if let command, let givenAppointmentId, givenAppointmentId != CommandEventID.appointmentId(commandId: command.id) {
            return answer.done(RequestProblem.response([RequestProblem(
                eventIndex: nil, field: "appointmentId", rule: "appointmentIdFromCommandId",
                message: "with a commandId the appointment id is \(CommandEventID.appointmentId(commandId: command.id).canonicalString), derived from it (docs/SERVER.md): send that or no appointmentId, or send an appointmentId without a commandId")]))
        }
        let knownAppointmentId = givenAppointmentId ?? command.map { CommandEventID.appointmentId(commandId: $0.id) }
        let appointmentId = knownAppointmentId ?? UUID()
        let booked: Set = [AppointmentBooked.typeName]
        let streams: [StreamName] = [.slot(site: site, slotId: slotId), .applicant(identity)]
        // With the client's appointment id, the booking's event ids are known before deciding
        // (`AppointmentBooked.eventID`), so a booking sent again after a lost answer is found.
        let retry = knownAppointmentId.map { id in
            streams.compactMap { stream in AppointmentBooked.eventID(appointmentId: id, in: stream).map { (id: $0, stream: stream.description) } }
        } ?? []
        let key = CommandService.RetryKey(events: retry, command: command, eventsFollowCommand: command != nil)
        return service.run("book", at: time, clientDated: f.has("occurredAt"), permissions: permissions,
                           writes: streams.map { ($0, booked) }, evidenceFrom: fingerprint, retry: key,
                           extra: { $0.field("appointmentId", appointmentId.uuidString.lowercased()) }, resume: answer.resume, done: answer.done) { a in
            try Decide.book(appointmentId, in: a.slot(site, slotId), for: a.applicant(identity), from: fingerprint, at: time)
        }
    }

    private func cancel(_ body: [UInt8], _ permissions: Permissions, _ answer: Answer) {
        var f = CommandFields(body, allowed: ["site", "slotId", "identityKey", "appointmentId", "by", "reason", "occurredAt", "commandId"])
        let site = f.member("site", of: Site.self), slotId = f.uuid("slotId"), identity = f.identityKey("identityKey")
        let appointmentId = f.uuid("appointmentId"), by = f.string("by", required: false) ?? "applicant"
        let reason = f.member("reason", of: ServiceCancellationReason.self, required: by == "service")
        let time = f.date("occurredAt", required: false) ?? Date(), command = f.commandKey()
        if by != "applicant" && by != "service" {
            return answer.done(RequestProblem.response(f.problems + [RequestProblem(eventIndex: nil, field: "by", rule: "closedSet", message: "\"by\" must be \"applicant\" or \"service\"")]))
        }
        // A reason is the service's: without `"by":"service"` the cancellation would be written
        // as the applicant's, its reason (fraud, say) dropped and the booking reinstatable.
        if by != "service", reason != nil {
            return answer.done(RequestProblem.response(f.problems + [RequestProblem(eventIndex: nil, field: "reason", rule: "reasonWithoutService", message: "a reason is given only with \"by\": \"service\"; an applicant's cancellation has none")]))
        }
        guard f.isValid, let site, let slotId, let identity, let appointmentId else { return answer.done(invalid(f)) }
        let cancelled: Set = [by == "service" ? AppointmentCancelledByService.typeName : AppointmentCancelledByApplicant.typeName]
        return service.run("cancel", at: time, clientDated: f.has("occurredAt"), permissions: permissions, writes: [(.slot(site: site, slotId: slotId), cancelled), (.applicant(identity), cancelled)],
                           retry: CommandService.RetryKey(command: command), resume: answer.resume, done: answer.done) { a in
            if by == "service", let reason {
                return try Decide.cancelByService(appointmentId, of: a.applicant(identity), in: a.slot(site, slotId), because: reason, at: time)
            }
            return try Decide.cancelByApplicant(appointmentId, of: a.applicant(identity), in: a.slot(site, slotId), at: time)
        }
    }

    private func reinstate(_ body: [UInt8], _ permissions: Permissions, _ answer: Answer) {
        var f = CommandFields(body, allowed: ["site", "slotId", "identityKey", "appointmentId", "occurredAt", "commandId"])
        let site = f.member("site", of: Site.self), slotId = f.uuid("slotId"), identity = f.identityKey("identityKey")
        let appointmentId = f.uuid("appointmentId"), time = f.date("occurredAt", required: false) ?? Date()
        let command = f.commandKey()
        guard f.isValid, let site, let slotId, let identity, let appointmentId else { return answer.done(invalid(f)) }
        let reinstated: Set = [AppointmentReinstated.typeName]
        return service.run("reinstate", at: time, clientDated: f.has("occurredAt"), permissions: permissions, writes: [(.slot(site: site, slotId: slotId), reinstated), (.applicant(identity), reinstated)],
                           retry: CommandService.RetryKey(command: command), resume: answer.resume, done: answer.done) { a in
            try Decide.reinstate(appointmentId, of: a.applicant(identity), in: a.slot(site, slotId), at: time)
        }
    }

    private func checkIn(_ body: [UInt8], _ permissions: Permissions, _ answer: Answer) {
        var f = CommandFields(body, allowed: ["identityKey", "appointmentId", "presentedIdentityKey", "occurredAt", "commandId"])
        let identity = f.identityKey("identityKey"), appointmentId = f.uuid("appointmentId")
        let presented = f.identityKey("presentedIdentityKey"), time = f.date("occurredAt", required: false) ?? Date()
        let command = f.commandKey()
        guard f.isValid, let identity, let appointmentId, let presented else { return answer.done(invalid(f)) }
        // Someone else's identity is recorded as a mismatch (after the first, on its own).
        let recorded: Set = presented == identity ? [AppointmentAttended.typeName] : [AppointmentAttended.typeName, IdentityMismatchAtCounter.typeName]
        return service.run("check-in", at: time, clientDated: f.has("occurredAt"), permissions: permissions, writes: [(.applicant(identity), recorded)], retry: CommandService.RetryKey(command: command), resume: answer.resume, done: answer.done) { a in
            try Decide.checkIn(appointmentId, of: a.applicant(identity), presenting: presented, at: time)
        }
    }

    private func dossier(_ step: String, _ body: [UInt8], _ permissions: Permissions, _ answer: Answer) {
        let stepFields: [String: [String]] = [
            "submit": ["identityKey", "category", "kind", "channel", "site"],
            "request-documents": ["documents", "dueBy"], "receive-documents": ["documents"],
            "issue-provisional-permit": ["kind", "validFrom", "validUntil"], "capture-biometrics": ["site", "appointmentId"],
            "request-consultation": ["consultationId", "authority"], "answer-consultation": ["consultationId", "outcome"],
            "decide": ["outcome"], "make-available": ["site"], "hand-over": ["site", "appointmentId"],
        ]
        var f = CommandFields(body, allowed: Set(["dossierId", "occurredAt", "commandId"] + (stepFields[step] ?? [])))
        let dossierId = f.uuid("dossierId"), time = f.date("occurredAt", required: false) ?? Date()
        let command = f.commandKey()
        if step == "submit" {
            let identity = f.identityKey("identityKey"), category = f.member("category", of: Category.self)
            let kind = f.member("kind", of: DossierKind.self), channel = f.member("channel", of: FilingChannel.self)
            let site = f.member("site", of: Site.self)
            guard f.isValid, let dossierId, let identity, let category, let kind, let channel, let site else { return answer.done(invalid(f)) }
            return service.run("dossier/submit", at: time, clientDated: f.has("occurredAt"), permissions: permissions, writes: [(.dossier(dossierId), [DossierSubmitted.typeName])], retry: CommandService.RetryKey(command: command), resume: answer.resume, done: answer.done) { a in
                try Decide.submit(a.dossier(dossierId), for: identity, category: category, kind: kind, channel: channel, at: site, on: time)
            }
        }
        let parsed: DossierStep?
        switch step {
        case "request-documents":
            let documents = f.strings("documents"), dueBy = f.date("dueBy")
            parsed = documents.flatMap { d in dueBy.map { DossierStep.requestDocuments(d, dueBy: $0) } }
        case "receive-documents": parsed = f.strings("documents").map { DossierStep.receiveDocuments($0) }
        case "declare-complete": parsed = .declareComplete
        case "issue-provisional-permit":
            let kind = f.member("kind", of: ProvisionalPermitKind.self), from = f.date("validFrom"), until = f.date("validUntil")
            if let kind, let from, let until { parsed = .issueProvisionalPermit(kind, validFrom: from, validUntil: until) } else { parsed = nil }
        case "capture-biometrics":
            let site = f.member("site", of: Site.self), appointment = f.uuid("appointmentId", required: false)
            parsed = site.map { DossierStep.captureBiometrics(at: $0, appointmentId: appointment) }
        case "request-consultation":
            let id = f.uuid("consultationId"), authority = f.member("authority", of: ConsultationAuthority.self)
            if let id, let authority { parsed = .requestConsultation(id, from: authority) } else { parsed = nil }
        case "answer-consultation":
            let id = f.uuid("consultationId"), outcome = f.member("outcome", of: ConsultationOutcome.self)
            if let id, let outcome { parsed = .answerConsultation(id, outcome: outcome) } else { parsed = nil }
        case "decide": parsed = f.member("outcome", of: DecisionOutcome.self).map { DossierStep.decide($0) }
        case "order-production": parsed = .orderProduction
        case "make-available": parsed = f.member("site", of: Site.self).map { DossierStep.makeAvailable(at: $0) }
        case "hand-over":
            let site = f.member("site", of: Site.self), appointment = f.uuid("appointmentId", required: false)
            parsed = site.map { DossierStep.handOver(at: $0, appointmentId: appointment) }
        case "withdraw": parsed = .withdraw
        case "close-for-no-follow-up": parsed = .closeForNoFollowUp
        default: parsed = .reachImplicitRejectionDeadline
        }
        guard f.isValid, let dossierId, let parsed else { return answer.done(invalid(f)) }
        return service.run("dossier/\(step)", at: time, clientDated: f.has("occurredAt"), permissions: permissions, writes: [(.dossier(dossierId), [parsed.eventTypeName])], retry: CommandService.RetryKey(command: command), resume: answer.resume, done: answer.done) { a in
            try Decide.advance(a.dossier(dossierId), by: parsed, at: time, rules: service.rules)
        }
    }
}
