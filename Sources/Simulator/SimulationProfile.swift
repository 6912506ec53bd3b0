import Foundation
import Domain

/// Everything that shapes a simulated history: its size, its seed, and the calibrated figures of
/// the prefecture it imitates. `docs/SIMULATOR.md` says where each figure comes from.
public struct SimulationProfile: Sendable, Equatable {
    public var name: String
    public var seed: UInt64
    /// Multiplies the volume (dossiers, slots, storms' size); 1 is the real Isère.
    public var scale: Double
    public var years: Int
    /// Business time of the first event; releases and arrivals start here.
    public var start: Date

    /// Residence-permit applications instructed per year (press release: 15,000).
    public var dossiersPerYear: Double
    /// Share of dossiers per category (national first permits 2023, "other" split three ways).
    public var categoryShares: [Category: Double]
    /// Share of each site, per category: students file almost all in Grenoble, near the campus.
    public var siteShares: [Category: [Site: Double]]
    /// Relative arrival rate per calendar month (index 0 = January), per category.
    public var monthlyWeights: [Category: [Double]]

    /// Median months from a complete dossier to the permit being available (press release).
    public var medianMonthsToPermit: [Category: Double]
    /// Spread of that delay: the sigma of a log-normal, so p90 ≈ median × e^(1.28 σ).
    public var delaySpread: Double
    /// Days the national producer takes to make a card, after production is ordered.
    public var productionDays: ClosedRange<Double>

    /// Dossiers filed at a counter appointment rather than online or by post.
    public var counterFilingShare: Double
    public var postFilingShare: Double
    /// Dossiers found incomplete (documents requested), and what follows.
    public var incompleteShare: Double
    public var completionAtCounterShare: Double
    public var closedForNoFollowUpShare: Double
    public var withdrawalShare: Double
    public var refusalRate: [Category: Double]
    public var consultationRate: [Category: Double]

    /// Applicant behaviour around appointments.
    public var noShowRate: Double
    public var applicantCancellationRate: Double
    /// Of the cancellations, how many are taken back (reinstated) a little later.
    public var reinstatementShare: Double
    public var rescheduleRate: Double
    /// Share of published slots the service withdraws (staff shortage), cancelling their bookings first.
    public var slotWithdrawalRate: Double

    /// Slot releases: weekdays (1 = Sunday … 7 = Saturday) and hour, Paris time. Tuesdays and
    /// Fridays all year, plus Wednesdays in the student season.
    public var releaseDays: [Int]
    public var seasonReleaseDays: [Int]
    public var releaseHour: Int
    /// Months (1-12) of the student season, when demand peaks and releases are more frequent.
    public var studentSeasonMonths: Set<Int>
    /// How far ahead a release opens appointments, in days.
    public var bookingHorizonDays: Int
    /// Places published beyond the demand the service expects.
    public var supplyMargin: Double

    /// Bot storms: the share of releases they hit, the share of the places still free that they
    /// take (all of them in 2024: a stormed release ran out within seconds), and their resale.
    public var stormShare: Double
    /// Months (1-12) the bots are active: the 2024 attacks ran from spring into the autumn (a
    /// complaint was filed in July, the press release of 31 October still reports them).
    public var stormMonths: Set<Int>
    public var botTakeShare: ClosedRange<Double>
    public var botFingerprintsPerStorm: ClosedRange<Int>
    public var botFingerprintPool: Int
    /// What happens to a bot's booking: resold by cancel-and-rebook under the buyer's identity,
    /// resold as is (the buyer fails the identity check), unsold (no-show), cancelled for fraud.
    public var botFates: [BotFate: Double]

    public init(name: String, seed: UInt64, scale: Double, years: Int, start: Date,
                dossiersPerYear: Double, categoryShares: [Category: Double], siteShares: [Category: [Site: Double]],
                monthlyWeights: [Category: [Double]], medianMonthsToPermit: [Category: Double], delaySpread: Double,
                productionDays: ClosedRange<Double>, counterFilingShare: Double, postFilingShare: Double,
                incompleteShare: Double, completionAtCounterShare: Double, closedForNoFollowUpShare: Double,
                withdrawalShare: Double, refusalRate: [Category: Double], consultationRate: [Category: Double],
                noShowRate: Double, applicantCancellationRate: Double, reinstatementShare: Double, rescheduleRate: Double,
                slotWithdrawalRate: Double, releaseDays: [Int], seasonReleaseDays: [Int], releaseHour: Int,
                studentSeasonMonths: Set<Int>, bookingHorizonDays: Int, supplyMargin: Double, stormShare: Double, stormMonths: Set<Int>,
                botTakeShare: ClosedRange<Double>, botFingerprintsPerStorm: ClosedRange<Int>, botFingerprintPool: Int,
                botFates: [BotFate: Double]) {
        self.name = name
        self.seed = seed
        self.scale = scale
        self.years = years
        self.start = start
        self.dossiersPerYear = dossiersPerYear
        self.categoryShares = categoryShares
        self.siteShares = siteShares
        self.monthlyWeights = monthlyWeights
        self.medianMonthsToPermit = medianMonthsToPermit
        self.delaySpread = delaySpread
        self.productionDays = productionDays
        self.counterFilingShare = counterFilingShare
        self.postFilingShare = postFilingShare
        self.incompleteShare = incompleteShare
        self.completionAtCounterShare = completionAtCounterShare
        self.closedForNoFollowUpShare = closedForNoFollowUpShare
        self.withdrawalShare = withdrawalShare
        self.refusalRate = refusalRate
        self.consultationRate = consultationRate
        self.noShowRate = noShowRate
        self.applicantCancellationRate = applicantCancellationRate
        self.reinstatementShare = reinstatementShare
        self.rescheduleRate = rescheduleRate
        self.slotWithdrawalRate = slotWithdrawalRate
        self.releaseDays = releaseDays
        self.seasonReleaseDays = seasonReleaseDays
        self.releaseHour = releaseHour
        self.studentSeasonMonths = studentSeasonMonths
        self.bookingHorizonDays = bookingHorizonDays
        self.supplyMargin = supplyMargin
        self.stormShare = stormShare
        self.stormMonths = stormMonths
        self.botTakeShare = botTakeShare
        self.botFingerprintsPerStorm = botFingerprintsPerStorm
        self.botFingerprintPool = botFingerprintPool
        self.botFates = botFates
    }

    /// The Isère prefecture in 2024, calibrated on the press release of 31 October 2024 and the
    /// national statistics in `docs/SIMULATOR.md`.
    public static func isere2024(scale: Double = 1, years: Int = 1, seed: UInt64 = 2024,
                                 start: Date = UTCTime.parse("2024-01-01T00:00:00Z")!) -> SimulationProfile {
        let flat = [1.0, 1.0, 1.05, 1.05, 1.05, 1.0, 0.95, 0.75, 1.05, 1.1, 1.05, 0.8]
        let studentSeason = [0.55, 0.45, 0.45, 0.45, 0.5, 0.65, 0.9, 1.4, 2.6, 2.4, 1.6, 0.5]
        let grenobleHeavy: [Site: Double] = [.grenoble: 0.66, .vienne: 0.19, .laTourDuPin: 0.15]
        return SimulationProfile(
            name: "isere-2024", seed: seed, scale: scale, years: years, start: start,
            dossiersPerYear: 15_000,
            categoryShares: [.student: 0.32, .family: 0.28, .worker: 0.17, .humanitarian: 0.10, .visitor: 0.05, .other: 0.08],
            siteShares: [
                .student: [.grenoble: 0.93, .vienne: 0.04, .laTourDuPin: 0.03],
                .worker: grenobleHeavy, .family: grenobleHeavy, .visitor: grenobleHeavy,
                .humanitarian: [.grenoble: 0.75, .vienne: 0.15, .laTourDuPin: 0.10], .other: grenobleHeavy,
            ],
            monthlyWeights: [
                .student: studentSeason, .worker: flat, .family: flat, .visitor: flat, .humanitarian: flat, .other: flat,
            ],
            medianMonthsToPermit: [.worker: 2.5, .student: 3.5, .family: 7.5, .visitor: 3.0, .humanitarian: 6.0, .other: 4.0],
            delaySpread: 0.3,
            productionDays: 14...35,
            counterFilingShare: 0.25, postFilingShare: 0.05,
            incompleteShare: 0.35, completionAtCounterShare: 0.6, closedForNoFollowUpShare: 0.12, withdrawalShare: 0.02,
            refusalRate: [.worker: 0.05, .student: 0.04, .family: 0.15, .visitor: 0.08, .humanitarian: 0.20, .other: 0.10],
            consultationRate: [.worker: 0.6, .student: 0.1, .family: 0.5, .visitor: 0.15, .humanitarian: 0.6, .other: 0.3],
            noShowRate: 0.07, applicantCancellationRate: 0.06, reinstatementShare: 0.2, rescheduleRate: 0.04,
            slotWithdrawalRate: 0.003,
            releaseDays: [3, 6], seasonReleaseDays: [4], releaseHour: 9,
            studentSeasonMonths: [9, 10, 11], bookingHorizonDays: 21, supplyMargin: 0.1,
            stormShare: 0.18, stormMonths: Set(3...11), botTakeShare: 1.0...1.0, botFingerprintsPerStorm: 2...5, botFingerprintPool: 12,
            botFates: [.resoldByRebooking: 0.4, .resoldAsIs: 0.35, .unsold: 0.15, .cancelledForFraud: 0.10]
        )
    }

    /// Checks the figures a caller can set from the command line.
    public func validate() throws(SimulationError) {
        // Memory follows what is in flight, about 21 MB per unit of scale (docs/SIMULATOR.md): 100
        // (France is about 63 Isères) stays near 2 GB; 10,000 passed validation and died of memory.
        guard scale > 0, scale <= 100, scale.isFinite else { throw .invalidProfile("scale must be greater than 0 and at most 100; \(scale) is not") }
        guard (1...100).contains(years) else { throw .invalidProfile("years must be between 1 and 100; \(years) is not") }
        guard releaseHour >= 0, releaseHour < 24 else { throw .invalidProfile("the release hour must be in 0...23") }
        guard !releaseDays.isEmpty else { throw .invalidProfile("at least one release day a week is needed") }
    }

    /// The end of the simulated period, exclusive.
    public var end: Date { UTCTime.adding(months: 12 * years, to: start) }
}

/// What becomes of a place a bot booked.
public enum BotFate: String, Sendable, CaseIterable {
    case resoldByRebooking
    case resoldAsIs
    case unsold
    case cancelledForFraud
}

public enum SimulationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidProfile(String)
    case sinkFailed(String)

    public var description: String {
        switch self {
        case .invalidProfile(let message): "invalid simulation profile: \(message)"
        case .sinkFailed(let message): "could not write the simulated events: \(message)"
        }
    }
}
