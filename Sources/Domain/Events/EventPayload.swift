import Foundation

/// What every event of the catalogue knows about itself: its name, how it is read from and
/// written to JSON, and which streams it belongs to.
protocol EventPayload: Sendable, Hashable {
    static var typeName: String { get }
    /// The schema version this build writes.
    static var schemaVersion: Int { get }
    var occurredAt: Date { get }
    var domainEvent: DomainEvent { get }
    /// The streams this event may be appended to.
    var homes: StreamHomes { get }
    /// Reads the current schema version, reporting every problem to the reader.
    static func readCurrent(_ reader: inout FieldReader) -> Self?
    /// Reads an older schema version into the current shape; the default knows none.
    static func upcast(_ reader: inout FieldReader, from version: Int) -> Self?
    func write(to writer: inout JSONObjectWriter)
}

extension EventPayload {
    static func upcast(_ reader: inout FieldReader, from version: Int) -> Self? {
        reportUnsupported(&reader, version: version, oldest: schemaVersion)
        return nil
    }

    static func reportUnsupported(_ reader: inout FieldReader, version: Int, oldest: Int) {
        let readable = oldest == schemaVersion ? "version \(schemaVersion)" : "versions \(oldest) to \(schemaVersion)"
        reader.report("schemaVersion", .unsupportedSchemaVersion, "`schemaVersion` \(version) is not supported for \(typeName); this build reads \(readable)")
    }

    static func read(_ reader: inout FieldReader, schemaVersion version: Int) -> Self? {
        version == schemaVersion ? readCurrent(&reader) : upcast(&reader, from: version)
    }

    func encodedData() -> [UInt8] {
        var writer = JSONObjectWriter()
        write(to: &writer)
        return writer.finish()
    }
}
