import Foundation
import Journal

/// The checks that make resuming from a checkpoint give the same tables as a rebuild from zero.
enum ProjectionCheckpoint {
    static let noEvent = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// Refuses a checkpoint taken on another journal (or on this one before it was rewritten), one
    /// ahead of the journal, one past the requested limit, or one built with other thresholds or
    /// another implicit-rejection period.
    static func check(_ loaded: CheckpointReader, journal: String, limit: RebuildLimit, thresholds: AbuseThresholds) throws(ProjectionError) {
        let position = loaded.trailer.position
        let path = loaded.path
        guard loaded.set.abuseSignals.thresholds == thresholds else {
            throw .checkpoint("\(path) was built with other abuse thresholds; rebuild without it")
        }
        // A run starts from the standard period, and the deadline column is computed from the state's.
        let months = loaded.set.dossierBoard.implicitRejectionMonths, standard = DossierBoard().implicitRejectionMonths
        guard months == standard else {
            throw .checkpoint("\(path) was built with an implicit-rejection period of \(months) months, not \(standard); rebuild without it")
        }
        switch limit {
        case .end: break
        case .beforePosition(let n):
            guard n >= position else { throw .checkpoint("\(path) is at position \(position), past the requested position \(n)") }
        case .asOf(let date):
            let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
            if let last = loaded.set.lastRecordedAtMicros, last > micros {
                throw .checkpoint("\(path) holds events committed at \(CivilCalendar.timeString(millis: last / 1000)), after the requested --as-of time")
            }
        }
        guard position > 0 else { return }
        let ids = try boundaryIds(journal: journal, position: position, checkpoint: path)
        guard ids.first == loaded.trailer.firstEventId else {
            throw .checkpoint("\(path) was taken on another journal: its first event is \(loaded.trailer.firstEventId.uuidString.lowercased()), this journal's is \(ids.first.uuidString.lowercased())")
        }
        guard ids.last == loaded.trailer.lastEventId else {
            throw .checkpoint("\(path) does not match this journal at position \(position - 1): it folded event \(loaded.trailer.lastEventId.uuidString.lowercased()), the journal holds \(ids.last.uuidString.lowercased()) there (another journal, or one rewritten)")
        }
        // The state's last commit time is the reference time of a run that folds nothing new.
        guard loaded.set.lastRecordedAtMicros == ids.lastRecordedAtMicros else {
            throw .checkpoint("\(path) is damaged or not a checkpoint of `registre project`: its state says the event at position \(position - 1) was committed at \(loaded.set.lastRecordedAtMicros.map(String.init) ?? "no time") µs, the journal says \(ids.lastRecordedAtMicros) µs; delete it to rebuild from zero")
        }
    }

    /// The ids of the events at position 0 and at `position − 1`, and the commit time of the latter.
    static func boundaryIds(journal: String, position: UInt64, checkpoint: String? = nil) throws(ProjectionError) -> (first: UUID, last: UUID, lastRecordedAtMicros: Int64) {
        guard position > 0 else { return (noEvent, noEvent, 0) }
        do {
            let reader = try JournalReader(directory: journal)
            func event(at p: UInt64) throws -> (id: UUID, recordedAtMicros: Int64)? {
                var found: (UUID, Int64)? = nil
                try reader.forEachEvent(from: p) { view in
                    if view.position == p { found = (view.id, view.recordedAtMicros) }
                    return false
                }
                return found
            }
            guard let last = try event(at: position - 1), let first = try event(at: 0) else {
                throw ProjectionError.checkpoint("\(checkpoint ?? "the checkpoint") is at position \(position), but the journal ends before it: the checkpoint is ahead of the journal (taken on a longer copy, or on another journal)")
            }
            return (first.id, last.id, last.recordedAtMicros)
        } catch let error as ProjectionError {
            throw error
        } catch let error as JournalError {
            throw .journal(error)
        } catch {
            throw .output(path: journal, reason: "\(error)")
        }
    }
}
