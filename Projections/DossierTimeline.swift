import Domain
import Foundation
import Journal

/// One dossier's history of steps, built from its own stream.
///
/// The projections keep each dossier's current state but not its history, which grows with
/// events; a server answering "what happened to dossier X" reads `dossier-{id}` from the journal
/// (a few events) and hands them here.
public enum DossierTimeline {
    public static func steps(of events: [RecordedEvent]) throws(ProjectionError) -> [DossierHistoryEntry] {
        var set = ProjectionSet()
        var steps: [DossierHistoryEntry] = []
        for (offset, event) in events.enumerated() {
            // The events are renumbered so that the fold accepts them; the entries keep the journal's positions.
            var renumbered = event
            renumbered.position = UInt64(offset)
            renumbered.endsAppend = true
            if var step = try set.apply(renumbered) {
                step.position = event.position
                steps.append(step)
            }
        }
        return steps
    }
}
