import ArgumentParser
import Foundation
import Journal

/// `registre recover`: what to do when the writer refuses to open a journal over damage in its
/// last segment. It only looks unless told `--cut`, and then keeps what it removes.
struct RecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Examine damage in the last segment that stops the journal from opening, and with --cut, cut the segment there, keeping the removed bytes in quarantine/.",
        discussion: """
        Opening cuts a torn tail by itself (a write that never completed was never acknowledged). It refuses bad bytes \
        with sound frames after them: those frames may hold acknowledged events. This command lists what a cut at the \
        damage would remove (the bytes, and the positions of the sound frames after it), and with --cut moves those \
        bytes to <journal>/quarantine/<segment>.<offset>.cut, made durable, before it truncates the segment. Damage in a \
        sealed segment is never cut (restore that segment from a copy). Checkpoints past the cut still describe the \
        removed events: an audit reports the cut, and a server with the signing key refuses the shorter log.
        It verifies the whole journal first, holding its lock (so not while a server runs). \
        Exit status: 0 when there is nothing to cut or the cut is done, 1 when damage was found that --cut would cut, \
        2 when the damage cannot be cut here, the journal cannot be read, or a server holds it.
        """
    )

    @OptionGroup var location: JournalLocation

    @Flag(name: .long, help: "Cut the last segment at the damage (the removed bytes are kept in quarantine/).")
    var cut = false

    func run() throws {
        let finding: TailRepair.Finding
        do { finding = try TailRepair.examine(directory: location.journal) } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        switch finding {
        case .nothingToCut:
            print("nothing to cut: the journal verifies without damage (a torn tail, if any, is cut by the writer when it opens)")
        case .notCuttable(let damage, let reason):
            print("DAMAGE: \(damage.file) byte \(damage.offset)\(damage.position.map { " position \($0)" } ?? ""): \(damage.kind.rawValue): \(damage.detail)")
            printError("not cut: \(reason)")
            throw ExitCode(2)
        case .cuttable(let plan):
            print("DAMAGE: \(plan.segment) byte \(plan.offset)\(plan.damage.position.map { " position \($0)" } ?? ""): \(plan.damage.kind.rawValue): \(plan.damage.detail)")
            print("a cut keeps positions 0..<\(plan.keptThrough) and removes \(plan.bytes) bytes from byte \(plan.offset) of \(plan.segment)")
            if plan.framesAfter.isEmpty {
                print("no sound frame after the damage")
            } else {
                let first = plan.framesAfter.map(\.firstPosition).min()!
                let last = plan.framesAfter.map { $0.firstPosition + UInt64($0.eventCount) }.max()! - 1
                print("removed with it: \(plan.framesAfter.count) sound frame(s) after the damage, \(plan.eventsAfter) event(s), positions \(first)...\(last), which may have been acknowledged")
            }
            if !plan.checkpointsAfter.isEmpty {
                print("\(plan.checkpointsAfter.count) checkpoint(s) cover positions past the cut (\(plan.checkpointsAfter.joined(separator: ", "))): the cut moves them to quarantine/checkpoints-after-\(plan.keptThrough)/")
                print("a server with the signing key will then refuse to append: the key's record (KEY.signed/<journal id>.ckpt) says the log reached a later position; that refusal is the record of the cut, and an audit with the quarantined checkpoints shows it")
            }
            guard cut else {
                print("nothing changed; run again with --cut to cut the segment there")
                throw ExitCode(1)
            }
            do {
                let done = try TailRepair.cut(directory: location.journal, as: plan)
                print("cut: \(plan.segment) now ends at byte \(plan.offset); the removed bytes are in \(done.bytesFile)")
                if let moved = done.checkpointsDirectory { print("checkpoints past the cut moved to \(moved)") }
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
        }
    }
}
