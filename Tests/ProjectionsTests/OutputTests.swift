import Domain
import Foundation
import GRDB
import Journal
import Testing
@testable import Projections

/// Every table of an export as text cells (nil for null), keyed by table name.
typealias Tables = [String: [[String?]]]

func readJSONExport(_ dir: String) throws -> Tables {
    var out: Tables = [:]
    for schema in ProjectionTables.all + [ProjectionTables.columnDocs] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(schema.name).json"))
        let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        out[schema.name] = rows.map { row in
            schema.columns.map { column -> String? in
                switch row[column.name] {
                case let text as String: text
                case let number as NSNumber: column.type == .integer ? String(number.int64Value) : String(number.doubleValue)
                default: nil
                }
            }
        }
    }
    return out
}

func readCSVExport(_ dir: String) throws -> Tables {
    var out: Tables = [:]
    for schema in ProjectionTables.all + [ProjectionTables.columnDocs] {
        let text = try String(contentsOfFile: "\(dir)/\(schema.name).csv", encoding: .utf8)
        var records: [[String]] = [], field = "", record: [String] = [], quoted = false
        var characters = Array(text)[...]
        while let c = characters.popFirst() {
            if quoted {
                if c == "\"" {
                    if characters.first == "\"" { field.append("\""); characters.removeFirst() } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { record.append(field); field = "" }
            else if c == "\r\n" || c == "\n" { record.append(field); records.append(record); record = []; field = "" }
            else { field.append(c) }
        }
        #expect(records.first == schema.columns.map(\.name))
        out[schema.name] = records.dropFirst().map { $0.map { $0.isEmpty ? nil : $0 } }
    }
    return out
}

func readSQLiteExport(_ dir: String) throws -> (Tables, indexes: [String]) {
    let queue = try DatabaseQueue(path: "\(dir)/projections.sqlite")
    return try queue.read { db in
        var out: Tables = [:]
        for schema in ProjectionTables.all + [ProjectionTables.columnDocs] {
            out[schema.name] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(schema.name)\" ORDER BY rowid").map { row in
                (0..<row.count).map { i -> String? in
                    switch row[i] as DatabaseValue {
                    case let v where v.isNull: nil
                    default:
                        switch (row[i] as DatabaseValue).storage {
                        case .int64(let n): String(n)
                        case .double(let d): String(d)
                        case .string(let s): s
                        default: "?"
                        }
                    }
                }
            }
        }
        let indexes = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
        return (out, indexes)
    }
}

@Suite("Offline output")
struct OutputTests {
    @Test("JSON, CSV and SQLite hold the same rows, and SQLite has its indexes")
    func formatsAgree() throws {
        let journal = TemporaryDirectory("formats-journal")
        try combinedHistory().write(to: journal.path)
        let out = TemporaryDirectory("formats-out")
        var exported: [OutputFormat: Tables] = [:]
        for format in OutputFormat.allCases {
            let dir = out.path + "/" + format.rawValue
            let report = try ProjectionRebuild.export(journal: journal.path, to: dir, format: format)
            #expect(report.files.count == (format == .sqlite ? 1 : ProjectionTables.all.count + 1))
            switch format {
            case .json: exported[format] = try readJSONExport(dir)
            case .csv: exported[format] = try readCSVExport(dir)
            case .sqlite:
                let (tables, indexes) = try readSQLiteExport(dir)
                exported[format] = tables
                #expect(indexes.contains("slots_by_site_category_start"))
                #expect(indexes.contains("dossier_steps_by_dossier_id_position"))
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".partial") }
            #expect(leftovers == [])
        }
        func comparable(_ t: Tables) -> Tables {
            var t = t
            t["run_info"] = t["run_info"]?.filter { $0.first != "built_at" }
            return t
        }
        let json = comparable(exported[.json]!), csv = comparable(exported[.csv]!), sqlite = comparable(exported[.sqlite]!)
        #expect(json == csv)
        #expect(json == sqlite)
        // Spot checks against the scenarios' answers.
        #expect(json["slots"]?.count == 9)
        #expect(json["dossiers"]?.count == 6)
        #expect(json["dossier_steps"]?.count == 27) // 6 submissions + 21 steps
        #expect(json["suspicion_flags"]?.map { $0[2]! } == ["many-identities", "book-cancel-churn", "release-sniping", "identity-mismatch"])
        #expect(json["flag_evidence"]?.count == 14) // 5 + 3 + 5 + 1
    }

    @Test("an export over an earlier one that cannot be replaced whole replaces none of it; a replacement ends with its run_info", arguments: [OutputFormat.json, .csv])
    func replacingAnExportIsAllOrNothing(format: OutputFormat) throws {
        let journal = TemporaryDirectory("replace")
        try combinedHistory().write(to: journal.path)
        let out = TemporaryDirectory("replace-out")
        // The earlier export folded part of the journal, so every table of a later one differs.
        _ = try ProjectionRebuild.export(journal: journal.path, to: out.path, format: format, limit: .beforePosition(20))
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: out.path + "/" + $0)) }
        // A directory where one table goes: that table cannot be replaced, so none is.
        let blocked = out.path + "/suspicion_flags." + format.rawValue
        try FileManager.default.removeItem(atPath: blocked)
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        #expect(throws: ProjectionError.self) { _ = try ProjectionRebuild.export(journal: journal.path, to: out.path, format: format) }
        for (file, bytes) in zip(files, before) where out.path + "/" + file != blocked {
            #expect(try Data(contentsOf: URL(fileURLWithPath: out.path + "/" + file)) == bytes, "\(file) was replaced")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).allSatisfy { !$0.hasSuffix(".partial") })
        try FileManager.default.removeItem(atPath: blocked)
        _ = try ProjectionRebuild.export(journal: journal.path, to: out.path, format: format)
        #expect(FileManager.default.fileExists(atPath: out.path + "/run_info." + format.rawValue))
    }

    @Test("a damaged sealed segment stops the rebuild, naming the file, and writes nothing")
    func damagedJournal() throws {
        let journal = TemporaryDirectory("damaged")
        try combinedHistory().write(to: journal.path, segmentSize: 4096)
        let segments = try FileManager.default.contentsOfDirectory(atPath: journal.path).filter { $0.hasSuffix(".seg") }.sorted()
        #expect(segments.count > 2)
        let victim = journal.path + "/" + segments[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: victim))

        let out = TemporaryDirectory("damaged-out")
        for format in OutputFormat.allCases {
            do {
                _ = try ProjectionRebuild.export(journal: journal.path, to: out.path, format: format)
                Issue.record("a damaged journal was projected")
            } catch {
                guard case .journal(.corrupt(let damage)) = error else { Issue.record("unexpected error \(error)"); continue }
                #expect(damage.file == segments[0])
                #expect("\(error)".contains(segments[0]))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == [])
        }
    }

    @Test("a journal that a writer holds open is read up to its last commit, and the fold resumes as it grows")
    func liveJournal() throws {
        let dir = TemporaryDirectory("live-journal")
        let history = try combinedHistory()
        var options = JournalOptions()
        options.durability = .relaxed
        options.log = { _ in }
        let journal = try Journal.open(directory: dir.path, options: options)
        defer { journal.close() }
        let half = history.plans.count / 2
        func append(_ plans: ArraySlice<PlannedAppend>) throws {
            for plan in plans {
                _ = try journal.appendAndWait(AppendRequest(events: plan.envelopes.map { ProposedEvent(stream: $0.stream, type: $0.type, data: $0.data) }))
            }
        }
        try append(history.plans[..<half])
        var set = try ProjectionRebuild.rebuild(journal: dir.path)
        #expect(set.position == journal.endPosition)
        try append(history.plans[half...])
        try ProjectionRebuild.fold(journal: dir.path, into: &set)
        #expect(set.position == journal.endPosition)
        #expect(set == (try ProjectionRebuild.rebuild(journal: dir.path)))
    }
}
