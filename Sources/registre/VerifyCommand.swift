import ArgumentParser
import Foundation
import Journal

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every frame's CRC and chain hash, gapless positions and versions, and the indexes, without writing.",
        discussion: "Exit status: 0 when clean, 1 when damage was found (every finding is listed), 2 when the journal cannot be read at all."
    )

    @OptionGroup var location: JournalLocation

    func run() throws {
        let progress = ProgressBar("verify")
        let report: VerificationReport
        do {
            report = try JournalVerifier.verify(directory: location.journal) { progress.update($0, unit: "bytes") }
        } catch {
            progress.finish()
            printError("\(error)")
            throw ExitCode(2)
        }
        progress.finish()
        for note in report.notes { print("note: \(note)") }
        for finding in report.findings {
            print("DAMAGE: \(finding.file) byte \(finding.offset)\(finding.position.map { " position \($0)" } ?? ""): \(finding.kind.rawValue): \(finding.detail)")
        }
        print("\(report.segmentCount) segments, \(report.frameCount) frames, \(report.eventCount) events, \(report.bytes) bytes")
        print("chain head \(report.chainHash.hex)")
        print("merkle root \(report.merkleRoot.hex)")
        if report.isClean {
            print("verified: no damage")
        } else {
            print("NOT VERIFIED: \(report.findings.count) finding(s)")
            throw ExitCode(1)
        }
    }
}
