import ArgumentParser

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
            BenchCommand.self,
            DemoCommand.self,
            CrashWriterCommand.self,
        ]
    )
}

/// `--journal DIR`, shared by every command that works on a journal.
struct JournalLocation: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The journal directory.", valueName: "DIR"))
    var journal: String

    func validate() throws {
        guard !journal.isEmpty else { throw ValidationError("--journal needs a directory path") }
    }
}
