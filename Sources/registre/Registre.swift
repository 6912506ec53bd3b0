import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Registre: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registre",
        abstract: "An event-sourced journal for residence-permit appointments and dossiers.",
        discussion: "Every command that reads a journal works on a copy, or on a journal a live writer holds open.",
        subcommands: [
            ImportCommand.self,
            ReplayCommand.self,
            VerifyCommand.self,
            RecoverCommand.self,
            KeygenCommand.self,
            AuditCommand.self,
            ReceiptCommand.self,
            VerifyReceiptCommand.self,
            VerifyConsistencyCommand.self,
            BenchCommand.self,
            DemoCommand.self,
            CrashWriterCommand.self,
            OpenProbeCommand.self,
            ProjectCommand.self,
            SimulateCommand.self,
            ServeCommand.self,
            AppendCommand.self,
            ReadCommand.self,
            TailCommand.self,
        ]
    )

    /// Ignores SIGPIPE and SIGXFSZ before anything runs, so a closed pipe or a file-size limit
    /// surfaces as an error from write(2) that the command reports, instead of killing it.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// `--journal DIR`, shared by every command that works on a journal.
struct JournalLocation: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The journal directory.", valueName: "DIR"))
    var journal: String

    func validate() throws {
        guard !journal.isEmpty else { throw ValidationError("--journal needs a directory path") }
    }
}
