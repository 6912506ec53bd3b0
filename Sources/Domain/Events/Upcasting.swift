import Foundation

// Older schema versions still found in journals, read into today's shape.
// The journal is never rewritten: each reader upcasts on the fly, so the bytes on disk stay
// exactly what was appended and their hashes keep verifying.

extension SlotPublished {
    /// Version 0 gave the slot an `end` time instead of `durationMinutes`, and called its
    /// capacity `places`.
    static func upcast(_ r: inout FieldReader, from version: Int) -> Self? {
        guard version == 0 else {
            reportUnsupported(&r, version: version, oldest: 0)
            return nil
        }
        let slotId = r.uuid("slotId")
        let site = r.member("site", of: Site.self)
        let motif = r.member("motif", of: Motif.self)
        let category = r.member("category", of: Category.self)
        let start = r.date("start")
        let end = r.date("end")
        let counter = r.string("counter", maxLength: 32)
        let places = r.integer("places", in: 1...500)
        let releaseId = r.uuid("releaseId")
        let occurredAt = r.date("occurredAt")
        r.requireOrder(start, "start", before: end, "end")
        guard let slotId, let site, let motif, let category, let start, let end, let counter, let places,
              let releaseId, let occurredAt, end > start
        else { return nil }
        let seconds = end.timeIntervalSince(start)
        guard seconds.truncatingRemainder(dividingBy: 60) == 0, seconds <= 480 * 60 else {
            r.report("end", .range, "`end` must fall a whole number of minutes after `start`, at most 480")
            return nil
        }
        return SlotPublished(slotId: slotId, site: site, motif: motif, category: category, start: start,
                             durationMinutes: Int(seconds / 60), counter: counter, capacity: places,
                             releaseId: releaseId, occurredAt: occurredAt)
    }
}

extension DossierSubmitted {
    /// Version 0 had no `channel`: every dossier was filed online then.
    static func upcast(_ r: inout FieldReader, from version: Int) -> Self? {
        guard version == 0 else {
            reportUnsupported(&r, version: version, oldest: 0)
            return nil
        }
        let dossierId = r.uuid("dossierId")
        let identityKey = r.identityKey("identityKey")
        let category = r.member("category", of: Category.self)
        let kind = r.member("kind", of: DossierKind.self)
        let site = r.member("site", of: Site.self)
        let occurredAt = r.date("occurredAt")
        guard let dossierId, let identityKey, let category, let kind, let site, let occurredAt else { return nil }
        return DossierSubmitted(dossierId: dossierId, identityKey: identityKey, category: category, kind: kind,
                                channel: .online, site: site, occurredAt: occurredAt)
    }
}
