import Domain
import Foundation

/// The tables of the offline rebuild, the same in SQLite, JSON and CSV (docs/PROJECTIONS.md).
///
/// Times are ISO-8601 UTC text (`2024-09-03T09:00:00Z`), days `YYYY-MM-DD` and months `YYYY-MM`,
/// all in business time (`occurredAt`) unless a column says otherwise; delays are in days;
/// booleans are 0 or 1.
public enum ProjectionTables {
    public static let slots = TableSchema(name: "slots", row: "one published slot", columns: [
        Column("slot_id", .text, "the slot's UUID"),
        Column("site", .text, "grenoble, vienne or la-tour-du-pin"),
        Column("motif", .text, "filing, completion, biometrics or handover"),
        Column("category", .text, "student, worker, family, visitor, humanitarian or other"),
        Column("start", .text, "when the appointment starts"),
        Column("start_day", .text, "the UTC day of the start"),
        Column("capacity", .integer, "applicants received at once"),
        Column("booked", .integer, "appointments holding a place now"),
        Column("free", .integer, "places still bookable (0 once withdrawn)"),
        Column("withdrawn", .integer, "1 if the slot was withdrawn"),
        Column("release_id", .text, "the release it was published in"),
        Column("published_at", .text, "business time of the publication"),
    ], indexes: [["site", "category", "start"], ["release_id"]])

    public static let slotDays = TableSchema(name: "slot_days", row: "the slots of one site, motif and category starting on one day", columns: [
        Column("day", .text, "UTC day of the slots' start"),
        Column("site", .text, "site"),
        Column("motif", .text, "motif"),
        Column("category", .text, "category"),
        Column("slots_published", .integer, "slots published for that day, withdrawn ones included"),
        Column("slots_withdrawn", .integer, "of those, slots withdrawn"),
        Column("places_offered", .integer, "capacity of the slots not withdrawn"),
        Column("places_booked", .integer, "places held by an appointment now"),
        Column("places_free", .integer, "places still bookable"),
    ], indexes: [["site", "category", "day"]])

    public static let releases = TableSchema(name: "releases", row: "one release of slots", columns: [
        Column("release_id", .text, "the release's UUID"),
        Column("site", .text, "site of its first slot"),
        Column("opened_at", .text, "earliest publication of the release"),
        Column("slots", .integer, "slots published in it"),
        Column("places", .integer, "capacity of its slots not withdrawn"),
        Column("places_booked", .integer, "places held now"),
        Column("bookings", .integer, "bookings made into it (reinstatements and reschedules excluded)"),
        Column("exhausted_at", .text, "first moment every place was booked; empty if never"),
        Column("seconds_to_exhaustion", .real, "exhausted_at − opened_at in seconds; empty if never"),
        Column("distinct_fingerprints", .integer, "distinct client fingerprints that booked into it"),
    ], indexes: [["opened_at"]])

    public static let dossiers = TableSchema(name: "dossiers", row: "one dossier and its current state", columns: [
        Column("dossier_id", .text, "the dossier's UUID"),
        Column("category", .text, "category"),
        Column("kind", .text, "first, renewal or change"),
        Column("channel", .text, "online, counter or post"),
        Column("site", .text, "site where it was filed"),
        Column("status", .text, "submitted, incomplete, complete, underReview, granted, refused, inProduction, available, handedOver, withdrawn or closedForNoFollowUp"),
        Column("submitted_at", .text, "submission"),
        Column("completed_at", .text, "first completion, which starts the legal clock"),
        Column("decided_at", .text, "decision"),
        Column("decision", .text, "granted or refused"),
        Column("available_at", .text, "permit available at a site"),
        Column("ended_at", .text, "reached an end state (refused, handedOver, withdrawn, closedForNoFollowUp)"),
        Column("implicit_rejection_due", .text, "completed_at + 4 months"),
        Column("implicit_rejection_recorded", .integer, "1 if ImplicitRejectionDeadlineReached was recorded"),
        Column("past_implicit_rejection_deadline", .integer, "1 if still awaiting a decision and past implicit_rejection_due at the reference time (run_info)"),
        Column("provisional_permits", .integer, "receipts and attestations issued"),
        Column("steps", .integer, "events in its stream, submission included"),
        Column("last_event_at", .text, "business time of its last event"),
        Column("last_position", .integer, "journal position of its last event"),
    ], indexes: [["status", "category", "site"], ["completed_at"]])

    public static let dossierCounts = TableSchema(name: "dossier_counts", row: "the dossiers in one state, category and site", columns: [
        Column("status", .text, "state"),
        Column("category", .text, "category"),
        Column("site", .text, "site"),
        Column("dossiers", .integer, "how many"),
    ], indexes: [])

    public static let dossierBacklog = TableSchema(name: "dossier_backlog", row: "one category at the end of one UTC day on which its backlog changed; until the category's next row it stays as this one says; the whole prefecture on a day is the sum of each category's latest row up to that day", columns: [
        Column("day", .text, "day"),
        Column("category", .text, "category"),
        Column("submitted", .integer, "dossiers submitted that day"),
        Column("ended", .integer, "dossiers that reached an end state that day"),
        Column("open", .integer, "dossiers submitted and not ended at the end of the day"),
        Column("awaiting_decision", .integer, "of those, the ones without a decision"),
    ], indexes: [["day"]])

    public static let dossierSteps = TableSchema(name: "dossier_steps", row: "one event of a dossier's stream, in journal order", columns: [
        Column("dossier_id", .text, "dossier"),
        Column("position", .integer, "journal position of the event"),
        Column("event_id", .text, "journal event id"),
        Column("event_type", .text, "event type, such as DossierDeclaredComplete"),
        Column("status_after", .text, "the dossier's state after the event"),
        Column("occurred_at", .text, "business time"),
        Column("recorded_at", .text, "commit time in the journal (server clock)"),
    ], indexes: [["dossier_id", "position"]])

    public static let delays = TableSchema(name: "delays", row: "one delay measure over one group", columns: [
        Column("measure", .text, "complete-to-available, complete-to-decision or booking-to-appointment"),
        Column("grouping", .text, "overall, category, category-month or category-site-month: which of the next three columns are set"),
        Column("category", .text, "category; empty for overall"),
        Column("site", .text, "site; set only for category-site-month"),
        Column("month", .text, "month of completion (of booking for booking-to-appointment); set for category-month and category-site-month"),
        Column("count", .integer, "samples"),
        Column("mean_days", .real, "mean, in days"),
        Column("median_days", .real, "median, in days"),
        Column("p90_days", .real, "90th percentile, in days, by linear interpolation (numpy/pandas default)"),
    ], indexes: [["measure", "grouping", "category"]])

    public static let fingerprints = TableSchema(name: "fingerprints", row: "one client fingerprint", columns: [
        Column("fingerprint", .text, "the client fingerprint hash"),
        Column("rank", .integer, "1 for the most suspicious; empty if no rule flagged it"),
        Column("score", .real, "sum over its flags of observed ÷ threshold"),
        Column("rules", .text, "the rules that flagged it, space-separated"),
        Column("bookings", .integer, "appointments it booked"),
        Column("distinct_identities", .integer, "distinct applicant identities it booked for"),
        Column("cancelled_by_applicant", .integer, "of its bookings, cancelled by the applicant"),
        Column("cancelled_by_service", .integer, "of its bookings, cancelled by the prefecture"),
        Column("book_cancel_churn", .integer, "bookings cancelled by the applicant within the churn window"),
        Column("sniped_bookings", .integer, "bookings within the snipe window after their release opened"),
        Column("identity_mismatches", .integer, "bookings where someone else came to the counter"),
        Column("rejected_attempts", .integer, "booking attempts refused by a rule"),
        Column("rate_limits", .integer, "RateLimitTriggered events"),
        Column("duplicate_bookings", .integer, "DuplicateBookingDetected events"),
        Column("flags_recorded", .integer, "BookingFlagged events"),
        Column("first_seen", .text, "first event naming it"),
        Column("last_seen", .text, "last event naming it"),
    ], indexes: [["rank"]])

    public static let suspicionFlags = TableSchema(name: "suspicion_flags", row: "one rule that flagged one fingerprint", columns: [
        Column("fingerprint", .text, "the flagged fingerprint"),
        Column("rank", .integer, "the fingerprint's rank"),
        Column("rule", .text, "many-identities, book-cancel-churn, release-sniping, identity-mismatch, rejected-attempts, rate-limited, duplicate-booking or flagged-by-service"),
        Column("observed", .integer, "the count the rule measured"),
        Column("threshold", .integer, "the count that raises the flag"),
        Column("evidence_count", .integer, "supporting events; flag_evidence lists the first of them"),
    ], indexes: [["fingerprint"], ["rank"]])

    public static let flagEvidence = TableSchema(name: "flag_evidence", row: "one journal event supporting one flag", columns: [
        Column("fingerprint", .text, "the flagged fingerprint"),
        Column("rule", .text, "the rule"),
        Column("event_id", .text, "journal event id of a supporting event"),
    ], indexes: [["fingerprint", "rule"]])

    public static let anomalies = TableSchema(name: "anomalies", row: "one kind of event the journal's rules forbid, found while folding", columns: [
        Column("kind", .text, "what was wrong"),
        Column("count", .integer, "how many times"),
        Column("first_position", .integer, "journal position of the first"),
        Column("first_event_id", .text, "journal event id of the first"),
    ], indexes: [])

    public static let runInfo = TableSchema(name: "run_info", row: "one fact about this rebuild", columns: [
        Column("key", .text, "name"),
        Column("value", .text, "value"),
    ], indexes: [])

    /// Every table, in the order they are written.
    public static let all = [slots, slotDays, releases, dossiers, dossierCounts, dossierBacklog, dossierSteps, delays,
                             fingerprints, suspicionFlags, flagEvidence, anomalies, runInfo]

    public static func row(_ step: DossierHistoryEntry) -> [Cell] {
        [.uuid(step.dossierId), .integer(Int64(step.position)), .uuid(step.eventId), .text(step.type), .text(step.statusAfter.rawValue),
         .time(step.occurredAt), .text(CivilCalendar.timeString(millis: step.recordedAtMicros / 1000))]
    }

    /// Writes every table but `dossier_steps`, which the rebuild streams as it folds.
    ///
    /// `referenceTime` is the "now" of the deadline column: the `--as-of` time, or the commit
    /// time of the last event folded.
    public static func writeState(of set: ProjectionSet, referenceTime: Date, info: [(String, String)], to sink: any ExportSink) throws {
        func table(_ schema: TableSchema, _ fill: (any TableWriter) throws -> Void) throws {
            let writer = try sink.open(schema)
            try fill(writer)
            try writer.close()
        }
        try table(slots) { w in
            for s in set.slotAvailability.allSlots() {
                try w.write([.uuid(s.slotId), .text(s.site.rawValue), .text(s.motif.rawValue), .text(s.category.rawValue), .time(s.start),
                             .text(CivilCalendar.dayString(CivilCalendar.day(ofMillis: Millis.of(s.start)))), .int(s.capacity), .int(s.booked),
                             .int(s.free), .bool(s.withdrawn), .uuid(s.releaseId), .time(s.publishedAt)])
            }
        }
        try table(slotDays) { w in
            for d in set.slotDays() {
                try w.write([.text(d.day), .text(d.site.rawValue), .text(d.motif.rawValue), .text(d.category.rawValue), .int(d.slotsPublished),
                             .int(d.slotsWithdrawn), .int(d.placesOffered), .int(d.placesBooked), .int(d.placesFree)])
            }
        }
        try table(releases) { w in
            for r in set.releases() {
                try w.write([.uuid(r.releaseId), .text(r.site.rawValue), .time(r.openedAt), .int(r.slots), .int(r.places), .int(r.placesBooked),
                             .int(r.bookings), .time(r.exhaustedAt), .optionalReal(r.secondsToExhaustion), .int(r.distinctFingerprints)])
            }
        }
        let overdue = Set(set.pastImplicitRejectionDeadline(at: referenceTime).map(\.dossierId))
        try table(dossiers) { w in
            for d in set.dossierBoard.allDossiers() {
                try w.write([.uuid(d.dossierId), .text(d.category.rawValue), .text(d.kind.rawValue), .text(d.channel.rawValue), .text(d.site.rawValue),
                             .text(d.status.rawValue), .time(d.submittedAt), .time(d.completedAt), .time(d.decidedAt), .optionalText(d.decision?.rawValue),
                             .time(d.availableAt), .time(d.endedAt), .time(d.implicitRejectionDue), .bool(d.implicitRejectionRecorded),
                             .bool(overdue.contains(d.dossierId)), .int(d.provisionalPermits), .int(d.steps), .time(d.lastEventAt),
                             .integer(Int64(d.lastPosition))])
            }
        }
        try table(dossierCounts) { w in
            for c in set.dossierCounts() {
                try w.write([.text(c.status.rawValue), .text(c.category.rawValue), .text(c.site.rawValue), .int(c.dossiers)])
            }
        }
        try table(dossierBacklog) { w in
            for b in set.backlog() {
                try w.write([.text(b.day), .text(b.category.rawValue), .int(b.submitted), .int(b.ended), .int(b.open), .int(b.awaitingDecision)])
            }
        }
        try table(delays) { w in
            for grouping in DelayGrouping.allCases {
                for d in set.delays(groupBy: grouping) {
                    try w.write([.text(d.measure.rawValue), .text(d.grouping.rawValue), .optionalText(d.category?.rawValue), .optionalText(d.site?.rawValue),
                                 .optionalText(d.month), .int(d.count), .real(d.meanDays), .real(d.medianDays), .real(d.p90Days)])
                }
            }
        }
        let ranking = set.allFingerprints()
        try table(fingerprints) { w in
            for f in ranking {
                try w.write([.text(f.fingerprint.description), f.rank.map(Cell.int) ?? .null, .real(f.score),
                             .optionalText(f.flags.isEmpty ? nil : f.flags.map(\.rule.rawValue).joined(separator: " ")), .int(f.bookings), .int(f.distinctIdentities),
                             .int(f.cancelledByApplicant), .int(f.cancelledByService), .int(f.bookCancelChurn), .int(f.snipedBookings),
                             .int(f.identityMismatches), .int(f.rejectedAttempts), .int(f.rateLimits), .int(f.duplicateBookings),
                             .int(f.flagsRecorded), .time(f.firstSeen), .time(f.lastSeen)])
            }
        }
        try table(suspicionFlags) { w in
            for f in ranking where f.rank != nil {
                for flag in f.flags {
                    try w.write([.text(f.fingerprint.description), f.rank.map(Cell.int) ?? .null, .text(flag.rule.rawValue), .int(flag.observed),
                                 .int(flag.threshold), .int(flag.evidenceCount)])
                }
            }
        }
        try table(flagEvidence) { w in
            for f in ranking where f.rank != nil {
                for flag in f.flags {
                    for id in flag.evidenceEventIds { try w.write([.text(f.fingerprint.description), .text(flag.rule.rawValue), .uuid(id)]) }
                }
            }
        }
        try table(anomalies) { w in
            for a in set.anomalies() {
                try w.write([.text(a.kind.rawValue), .int(a.count), .integer(Int64(a.firstPosition)), .uuid(a.firstEventId)])
            }
        }
        try table(runInfo) { w in
            for (key, value) in info { try w.write([.text(key), .text(value)]) }
        }
    }
}
