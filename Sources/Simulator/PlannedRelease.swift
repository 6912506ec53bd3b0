import Foundation
import Domain

/// A release the simulated prefecture would publish next: what a live demo publishes through the
/// server, and the bot fingerprints it can set loose on it.
public struct PlannedRelease: Sendable, Equatable {
    public var releaseId: UUID
    /// When the release opens, Paris 09:00 on a release day.
    public var time: Date
    public var publications: [SlotPublished]
    /// Fingerprints the simulated bots used; a demo storm reusing them links it to the history.
    public var botFingerprints: [Fingerprint]

    public init(releaseId: UUID, time: Date, publications: [SlotPublished], botFingerprints: [Fingerprint]) {
        self.releaseId = releaseId
        self.time = time
        self.publications = publications
        self.botFingerprints = botFingerprints
    }

    /// The same release moved in time, every slot keeping its distance to the release, so a live
    /// demo can publish it now (the server refuses business times far from its clock).
    public func shifted(to newTime: Date) -> PlannedRelease {
        let offset = newTime.timeIntervalSince(time)
        var moved = self
        moved.time = newTime
        moved.publications = publications.map { publication in
            SlotPublished(slotId: publication.slotId, site: publication.site, motif: publication.motif, category: publication.category,
                          start: publication.start.addingTimeInterval(offset), durationMinutes: publication.durationMinutes,
                          counter: publication.counter, capacity: publication.capacity, releaseId: publication.releaseId,
                          occurredAt: publication.occurredAt.addingTimeInterval(offset))
        }
        return moved
    }

    /// The appends that publish it, one per slot, each opening its slot's stream.
    public func publicationAppends() throws(Rejection) -> [PlannedAppend] {
        var appends: [PlannedAppend] = []
        for publication in publications {
            appends.append(try Decide.publish(publication, onto: SlotState(site: publication.site, slotId: publication.slotId)))
        }
        return appends
    }
}
