import Foundation
import Domain

/// A genuine applicant and their dossier, with the aggregate states the simulator decides on.
struct Person {
    let identity: IdentityKey
    let fingerprint: Fingerprint
    let category: Category
    let site: Site
    let kind: DossierKind
    let channel: FilingChannel
    var applicant: ApplicantState
    var dossier: DossierState
    /// The appointment motif they are trying to book, if any.
    var need: Motif?
    var held: HeldAppointment?
    /// A cancelled appointment they may still take back.
    var cancelled: HeldAppointment?
    /// A bot's booking they bought as is; they will present themselves with it and fail the check.
    var boughtFromBot: Int?
    /// Bumped whenever their appointment situation changes, so that stale actions are dropped.
    var generation = 0

    var completedAt: Double?
    var targetAvailable: Double = 0
    var willBeRefused = false
    var biometricsCaptured = false
    var decisionRecorded = false
    var pendingConsultations: [UUID] = []
    var provisionalPermitUntil: Double = 0

    init(identity: IdentityKey, fingerprint: Fingerprint, category: Category, site: Site, kind: DossierKind, channel: FilingChannel, dossierId: UUID) {
        self.identity = identity
        self.fingerprint = fingerprint
        self.category = category
        self.site = site
        self.kind = kind
        self.channel = channel
        applicant = ApplicantState(identityKey: identity)
        dossier = DossierState(dossierId: dossierId)
    }

    var dossierIsOpen: Bool { dossier.status?.isOpen ?? true }
}

struct HeldAppointment {
    var appointmentId: UUID
    var slot: Int
    var motif: Motif
}

/// One place a bot booked during a storm, under an identity key made up or bought for it.
struct BotBooking {
    let identity: IdentityKey
    var applicant: ApplicantState
    let fingerprint: Int
    let slot: Int
    let appointmentId: UUID
    let motif: Motif
    var fate: BotFate
    var buyer: Int?
    var isOver = false
}

enum Holder: Equatable {
    case person(Int)
    case bot(Int)
}

/// A published slot while it can still change: until its start.
struct SlotEntry {
    var state: SlotState
    let pool: Int
    let start: Double
    var holders: [(appointmentId: UUID, holder: Holder)] = []
    /// Places freed by a bot that it is about to rebook for its buyer.
    var reserved = 0

    var placesForThePublic: Int { state.freePlaces - reserved }
}

/// Slots of one site, motif and category: the places on offer and the applicants waiting for one.
struct Pool {
    let site: Site
    let motif: Motif
    let category: Category
    /// Slots that may have a free place, earliest first; entries can be stale and are checked when taken.
    var free = SlotHeap()
    var freePlaces = 0
    /// Applicants who need a place here, in the order they started waiting (stale ones are skipped).
    var waiting: [Int] = []
    var needsSinceRelease = 0
    var needsPerDay = 0.0

    init(site: Site, motif: Motif, category: Category) {
        self.site = site
        self.motif = motif
        self.category = category
    }

    static let count = Site.allCases.count * Motif.allCases.count * Category.allCases.count

    static func index(_ site: Site, _ motif: Motif, _ category: Category) -> Int {
        (siteIndex(site) * Motif.allCases.count + motifIndex(motif)) * Category.allCases.count + categoryIndex(category)
    }

    static func siteIndex(_ site: Site) -> Int { Site.allCases.firstIndex(of: site)! }
    static func motifIndex(_ motif: Motif) -> Int { Motif.allCases.firstIndex(of: motif)! }
    static func categoryIndex(_ category: Category) -> Int { Category.allCases.firstIndex(of: category)! }
}

/// A min-heap of (start, slot), so an applicant is offered the earliest place.
struct SlotHeap {
    private var items: [(start: Double, slot: Int)] = []

    var first: (start: Double, slot: Int)? { items.first }

    mutating func push(start: Double, slot: Int) {
        items.append((start, slot))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popFirst() {
        guard !items.isEmpty else { return }
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, precedes(items[left], items[smallest]) { smallest = left }
            if right < items.count, precedes(items[right], items[smallest]) { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private func precedes(_ a: (start: Double, slot: Int), _ b: (start: Double, slot: Int)) -> Bool {
        a.start < b.start || (a.start == b.start && a.slot < b.slot)
    }
}
