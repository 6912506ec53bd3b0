import Foundation
import Testing
@testable import Projections

/// A Python with DuckDB and pandas: `REGISTRE_PYTHON`, else `python3` on the PATH; `nil` when
/// neither can import both (the test is then skipped, not failed).
enum AnalystPython {
    static let path: String? = {
        let candidate = ProcessInfo.processInfo.environment["REGISTRE_PYTHON"] ?? "/usr/bin/env"
        let arguments = candidate == "/usr/bin/env" ? ["python3", "-c", "import duckdb, pandas"] : ["-c", "import duckdb, pandas"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: candidate)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? candidate : nil
    }()
}

@Suite("Opening the output in analysts' tools")
struct AnalystToolsTests {
    @Test("pandas reads the SQLite, JSON and CSV outputs and DuckDB the CSV and JSON ones, with the same rows",
          .enabled(if: AnalystPython.path != nil, "needs python3 with duckdb and pandas (pip install duckdb pandas), or REGISTRE_PYTHON"))
    func pandasAndDuckDB() throws {
        let dir = TemporaryDirectory("analyst-tools")
        let journal = dir.path + "/journal"
        try combinedHistory().write(to: journal)
        for format in OutputFormat.allCases {
            _ = try ProjectionRebuild.export(journal: journal, to: dir.path + "/" + format.rawValue, format: format)  // the rows are compared below, by the tools
        }
        let expected = try ProjectionRebuild.rebuild(journal: journal)
        let bookings = expected.allFingerprints().reduce(0) { $0 + $1.bookings }
        let script = """
        import sys, sqlite3, duckdb, pandas as pd
        d = sys.argv[1]
        con = sqlite3.connect(d + "/sqlite/projections.sqlite")
        frames = {
            "pandas sqlite": pd.read_sql("SELECT * FROM fingerprints", con),
            "pandas json": pd.read_json(d + "/json/fingerprints.json"),
            "pandas csv": pd.read_csv(d + "/csv/fingerprints.csv"),
        }
        for name, f in frames.items():
            print(name, len(f), int(f["bookings"].sum()), int(f["rank"].max()))
        db = duckdb.connect()
        for name, source in [("duckdb csv", d + "/csv/fingerprints.csv"), ("duckdb json", d + "/json/fingerprints.json")]:
            n, total, top = db.execute(f"SELECT count(*), sum(bookings), max(rank) FROM '{source}'").fetchone()
            print(name, n, int(total), int(top))
        delays = pd.read_sql("SELECT * FROM delays WHERE grouping = 'overall' ORDER BY measure", con)
        print("delays", len(delays), " ".join(f"{v:.6f}" for v in delays["p90_days"]))
        """
        let scriptPath = dir.path + "/check.py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let python = try #require(AnalystPython.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = (python == "/usr/bin/env" ? ["python3"] : []) + [scriptPath, dir.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        let fingerprints = expected.allFingerprints()
        let ranked = expected.abuseRanking(limit: .max).count
        for tool in ["pandas sqlite", "pandas json", "pandas csv", "duckdb csv", "duckdb json"] {
            #expect(output.contains("\(tool) \(fingerprints.count) \(bookings) \(ranked)\n"), "\(tool): \(output)")
        }
        let p90 = expected.delays(groupBy: .overall).sorted { $0.measure.rawValue < $1.measure.rawValue }.map { String(format: "%.6f", $0.p90Days) }
        #expect(output.contains("delays \(p90.count) " + p90.joined(separator: " ")), "\(output)")
    }
}
