import Foundation

/// The output formats of the offline rebuild.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// One `<table>.json` per table: an array of objects, one per line.
    case json
    /// One `<table>.csv` per table, RFC 4180, with a header line.
    case csv
    /// One `projections.sqlite` holding every table, with indexes.
    case sqlite
}

/// Writes each table to `<directory>/<table>.<ext>.partial` and renames them all into place only
/// once the whole export succeeded, so a failed rebuild never leaves a plausible partial result.
final class TextSink: ExportSink {
    let directory: String
    let format: OutputFormat
    private(set) var written: [(partial: String, final: String)] = []

    init(directory: String, format: OutputFormat) {
        self.directory = directory
        self.format = format
    }

    func open(_ schema: TableSchema) throws -> any TableWriter {
        let final = directory + "/" + schema.name + "." + format.rawValue
        let partial = final + ".partial"
        let writer = try TextTableWriter(path: partial, schema: schema, format: format)
        written.append((partial, final))
        return writer
    }

    /// Renames the tables into place, `run_info` last: it is the set's commit marker. A run that
    /// replaces an earlier output in the same directory first removes the old `run_info`, so a
    /// crash between two renames leaves a directory without one (some tables new, some old),
    /// which readers are told to treat as incomplete (docs/PROJECTIONS.md). Every rename is
    /// checked before the first is made, so an output that cannot be replaced (a directory in a
    /// table's place) fails with the earlier output untouched.
    func publish() throws -> [String] {
        let marker = written.filter { $0.final.hasSuffix("/" + ProjectionTables.runInfo.name + "." + format.rawValue) }
        let tables = written.filter { file in !marker.contains { $0.final == file.final } }
        for file in written {
            var st = stat()
            if lstat(file.final, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
                throw ProjectionError.output(path: file.final, reason: "it exists and is not a regular file, so it cannot be replaced; nothing was replaced")
            }
        }
        for file in marker where unlink(file.final) != 0 && errno != ENOENT {
            throw ProjectionError.output(path: file.final, reason: "the previous run's marker could not be removed (\(String(cString: strerror(errno)))); nothing was replaced")
        }
        for file in tables + marker {
            if file.final == marker.first?.final { try syncDirectory() }
            guard rename(file.partial, file.final) == 0 else {
                throw ProjectionError.output(path: file.final, reason: String(cString: strerror(errno)))
            }
        }
        try syncDirectory()
        return written.map(\.final)
    }

    /// The renames are durable once the directory is.
    private func syncDirectory() throws {
        let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ProjectionError.output(path: directory, reason: String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw ProjectionError.output(path: directory, reason: String(cString: strerror(errno))) }
    }

    func discard() {
        for file in written { unlink(file.partial) }
    }
}

final class TextTableWriter: TableWriter {
    private let path: String
    private let schema: TableSchema
    private let format: OutputFormat
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var rows = 0

    init(path: String, schema: TableSchema, format: OutputFormat) throws {
        self.path = path
        self.schema = schema
        self.format = format
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ProjectionError.output(path: path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(1 << 20)
        switch format {
        case .csv: append(schema.columns.map { Self.csvField($0.name) }.joined(separator: ",") + "\r\n")
        default: append("[")
        }
    }

    deinit { Glibc.close(fd) }

    func write(_ row: [Cell]) throws {
        precondition(row.count == schema.columns.count, "\(schema.name): \(row.count) cells for \(schema.columns.count) columns")
        switch format {
        case .csv:
            append(row.map { $0.formatted.map(Self.csvField) ?? "" }.joined(separator: ",") + "\r\n")
        default:
            var line = rows == 0 ? "\n{" : ",\n{"
            for (k, cell) in row.enumerated() {
                if k > 0 { line += "," }
                line += Self.jsonString(schema.columns[k].name) + ":"
                switch cell {
                case .text(let s): line += Self.jsonString(s)
                case .integer, .real: line += cell.formatted ?? "null"
                case .null: line += "null"
                }
            }
            append(line + "}")
        }
        rows += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    func close() throws {
        if format != .csv { append(rows == 0 ? "]\n" : "\n]\n") }
        try flush()
        guard fsync(fd) == 0 else { throw ProjectionError.output(path: path, reason: String(cString: strerror(errno))) }
    }

    private func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    private func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ProjectionError.output(path: path, reason: String(cString: strerror(errno)))
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    static func csvField(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

#if canImport(Glibc)
import Glibc
#endif
