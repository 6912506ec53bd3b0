import Foundation
import Logging

/// The logger `registre serve` gives the server: one line per event on standard error, at the
/// chosen level. Libraries take a `Logger`; only the command builds one.
public enum ServerLogging {
    public static let levels = Logger.Level.allCases.map(\.rawValue)

    public static func makeLogger(level: String) -> Logger? {
        guard let parsed = Logger.Level(rawValue: level) else { return nil }
        var logger = Logger(label: "registre.server") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = parsed
        return logger
    }
}
