/// The simulation's future: actions ordered by business time, ties broken by the order they were
/// scheduled, so the history is the same on every run.
struct Agenda {
    private struct Entry {
        var time: Double
        var sequence: UInt64
        var action: Action
    }

    private var heap: [Entry] = []
    private var sequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Double? { heap.first?.time }

    mutating func schedule(_ action: Action, at time: Double) {
        sequence += 1
        heap.append(Entry(time: time, sequence: sequence, action: action))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func next() -> (time: Double, action: Action)? {
        guard !heap.isEmpty else { return nil }
        let first = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count, precedes(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count, precedes(heap[right], heap[smallest]) { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (first.time, first.action)
    }

    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.time < b.time || (a.time == b.time && a.sequence < b.sequence)
    }
}

/// Something that happens at a business time. Entities are referred to by index; an action whose
/// entity moved on (a rebooked appointment, a closed dossier) is recognised as stale and dropped.
enum Action {
    case day(Double)
    case release
    case arrival(CategoryIndex)
    case attempt(person: Int, generation: Int, afterRelease: Bool)
    case appointmentDue(person: Int, generation: Int)
    case applicantCancels(person: Int, generation: Int)
    case reinstate(person: Int, generation: Int)
    case reschedule(person: Int, generation: Int)
    case dossier(person: Int, step: DossierAction)
    case botBooks(slot: Int, fingerprint: Int)
    case botFate(bot: Int)
    case botRebooksForBuyer(bot: Int)
    case botAppointmentDue(bot: Int)
    case flushEvidence(minute: Double)
    case withdrawSlot(Int)
    case slotStarts(Int)
}

typealias CategoryIndex = Int

/// The steps of a dossier the engine schedules.
enum DossierAction {
    case submit
    case requestDocuments
    case receiveDocumentsOnline
    case declareComplete
    case issueProvisionalPermit
    case requestConsultation
    case answerConsultation(Int)
    case reachImplicitRejection
    case decide
    case orderProduction
    case makeAvailable
    case withdraw
    case closeForNoFollowUp
}
