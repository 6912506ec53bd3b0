import Foundation

/// One value of an exported row.
public enum Cell: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null

    static func int(_ v: Int) -> Cell { .integer(Int64(v)) }
    static func bool(_ v: Bool) -> Cell { .integer(v ? 1 : 0) }
    static func time(_ d: Date?) -> Cell { d.map { .text(CivilCalendar.timeString(millis: Millis.of($0))) } ?? .null }
    static func uuid(_ u: UUID?) -> Cell { u.map { .text($0.uuidString.lowercased()) } ?? .null }
    static func optionalText(_ s: String?) -> Cell { s.map(Cell.text) ?? .null }
    static func optionalReal(_ v: Double?) -> Cell { v.map(Cell.real) ?? .null }

    /// The one spelling every text format uses, so that CSV and JSON hold the same numbers.
    var formatted: String? {
        switch self {
        case .integer(let v): String(v)
        case .real(let v): v.isFinite ? String(v) : nil
        case .text(let s): s
        case .null: nil
        }
    }
}

public enum ColumnType: String, Sendable {
    case integer = "INTEGER"
    case real = "REAL"
    case text = "TEXT"
}

public struct Column: Sendable {
    public var name: String
    public var type: ColumnType
    public var meaning: String

    init(_ name: String, _ type: ColumnType, _ meaning: String) {
        self.name = name
        self.type = type
        self.meaning = meaning
    }
}

/// An exported table: its name, what one row is, its columns, and the indexes SQLite gets.
public struct TableSchema: Sendable {
    public var name: String
    public var row: String
    public var columns: [Column]
    public var indexes: [[String]]
}

/// Where rows of one table go.
public protocol TableWriter: AnyObject {
    func write(_ row: [Cell]) throws
    func close() throws
}

/// An output being written: tables are opened, filled and closed, possibly several at once.
public protocol ExportSink: AnyObject {
    func open(_ schema: TableSchema) throws -> any TableWriter
}
