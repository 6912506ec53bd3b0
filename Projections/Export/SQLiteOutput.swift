import Foundation
import GRDB

/// Every table in one SQLite file, written inside one transaction to `projections.sqlite.partial`
/// and renamed into place once complete. Indexes are built after each table is filled.
final class SQLiteSink: ExportSink {
    let db: Database

    init(db: Database) {
        self.db = db
    }

    func open(_ schema: TableSchema) throws -> any TableWriter {
        let columns = schema.columns.map { "\(quoted($0.name)) \($0.type.rawValue)" }.joined(separator: ", ")
        try db.execute(sql: "CREATE TABLE \(quoted(schema.name)) (\(columns))")
        let marks = Array(repeating: "?", count: schema.columns.count).joined(separator: ", ")
        let insert = try db.makeStatement(sql: "INSERT INTO \(quoted(schema.name)) VALUES (\(marks))")
        return SQLiteTableWriter(db: db, schema: schema, insert: insert)
    }

    /// Runs `body` against a new database at `path`, committing only if it succeeds.
    static func write(path: String, _ body: (SQLiteSink) throws -> Void) throws {
        unlink(path)
        var configuration = Configuration()
        configuration.journalMode = .default
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.inDatabase { db in
            // A fresh file renamed into place only when complete needs no rollback journal.
            try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            try db.execute(sql: "BEGIN")
            do {
                try body(SQLiteSink(db: db))
                try db.execute(sql: "COMMIT")
            } catch {
                try? db.execute(sql: "ROLLBACK")
                throw error
            }
        }
        try queue.close()
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try file.synchronize()
        try file.close()
    }
}

func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

final class SQLiteTableWriter: TableWriter {
    private let db: Database
    private let schema: TableSchema
    private let insert: Statement

    init(db: Database, schema: TableSchema, insert: Statement) {
        self.db = db
        self.schema = schema
        self.insert = insert
    }

    func write(_ row: [Cell]) throws {
        precondition(row.count == schema.columns.count, "\(schema.name): \(row.count) cells for \(schema.columns.count) columns")
        let values: [DatabaseValue] = row.map { cell in
            switch cell {
            case .integer(let v): v.databaseValue
            case .real(let v): v.isFinite ? v.databaseValue : .null
            case .text(let s): s.databaseValue
            case .null: .null
            }
        }
        insert.setUncheckedArguments(StatementArguments(values))
        try insert.execute()
    }

    func close() throws {
        for columns in schema.indexes {
            let name = "\(schema.name)_by_\(columns.joined(separator: "_"))"
            try db.execute(sql: "CREATE INDEX \(quoted(name)) ON \(quoted(schema.name)) (\(columns.map(quoted).joined(separator: ", ")))")
        }
    }
}
