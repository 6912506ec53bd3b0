import Foundation

/// The JSON shapes every Registre tool and the server share for events (README, "Wire contract").
///
/// An event as read:
/// `{"position":N,"stream":"…","version":V,"id":"uuid","type":"…","recordedAt":"ISO-8601","metadata":{…},"data":{…}}`.
/// Data and metadata are copied byte for byte, as stored; nothing is re-serialised, except that
/// line breaks between their tokens are left out, so that an event is always one line of NDJSON.
public enum WireFormat {
    /// Appends one event as a JSON object (no newline) to `out`.
    public static func appendJSON(of e: EventView, to out: inout [UInt8]) {
        appendJSON(position: e.position, stream: e.streamBytes, version: e.version, id: e.id, type: e.typeBytes,
                   recordedAtMicros: e.recordedAtMicros, metadata: e.metadataBytes, data: e.dataBytes, to: &out)
    }

    public static func json(of e: RecordedEvent) -> [UInt8] {
        var out: [UInt8] = []
        Array(e.stream.utf8).withUnsafeBytes { stream in
            Array(e.type.utf8).withUnsafeBytes { type in
                e.metadata.withUnsafeBytes { metadata in
                    e.data.withUnsafeBytes { data in
                        appendJSON(position: e.position, stream: stream, version: e.version, id: e.id, type: type,
                                   recordedAtMicros: e.recordedAtMicros, metadata: metadata, data: data, to: &out)
                    }
                }
            }
        }
        return out
    }

    static func appendJSON(position: UInt64, stream: UnsafeRawBufferPointer, version: UInt64, id: UUID, type: UnsafeRawBufferPointer,
                           recordedAtMicros: Int64, metadata: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"position":"#.utf8)
        appendDecimal(position, to: &out)
        out.append(contentsOf: #","stream":"#.utf8)
        appendString(stream, to: &out)
        out.append(contentsOf: #","version":"#.utf8)
        appendDecimal(version, to: &out)
        out.append(contentsOf: #","id":""#.utf8)
        appendUUID(id, to: &out)
        out.append(contentsOf: #"","type":"#.utf8)
        appendString(type, to: &out)
        out.append(contentsOf: #","recordedAt":""#.utf8)
        appendTimestamp(micros: recordedAtMicros, to: &out)
        out.append(contentsOf: #"","metadata":"#.utf8)
        appendOnOneLine(metadata, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        appendOnOneLine(data, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Stored JSON, without its line breaks. A client may send `{\n "a": 1\n}`, and the journal
    /// keeps it as sent; but a reader of NDJSON splits lines. Valid JSON has no raw CR or LF inside
    /// a string (they are escaped), and no two tokens that need whitespace between them, so
    /// leaving both bytes out changes no value.
    static func appendOnOneLine(_ json: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard json.count > 0, memchr(json.baseAddress!, 0x0A, json.count) != nil || memchr(json.baseAddress!, 0x0D, json.count) != nil else {
            out.append(contentsOf: json)
            return
        }
        for b in json where b != 0x0A && b != 0x0D { out.append(b) }
    }

    @inline(__always) static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 { out.append(UInt8(ascii: "0") + UInt8(value)); return }
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var n = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while v > 0 {
                raw[n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            }
            for k in stride(from: n - 1, through: 0, by: -1) { out.append(raw[k]) }
        }
    }

    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in bytes {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendUUID(_ id: UUID, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        withUnsafeBytes(of: id.uuid) { raw in
            for (i, b) in raw.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
    }

    /// `2024-09-03T09:00:00.123456Z`: UTC, always six fractional digits.
    public static func timestamp(micros: Int64) -> String {
        var out: [UInt8] = []
        appendTimestamp(micros: micros, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendTimestamp(micros: Int64, to out: inout [UInt8]) {
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) { out.append(UInt8(ascii: "0") + UInt8(v / 10)); out.append(UInt8(ascii: "0") + UInt8(v % 10)) }
        if (0...9999).contains(year) {
            two(year / 100); two(year % 100)
        } else {
            // ISO 8601's expanded years (a sign and six digits): a server clock never gives
            // these, but a time read from a damaged or crafted file must still print, not trap.
            out.append(year < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = year.magnitude
            two(Int64(magnitude / 10_000 % 100)); two(Int64(magnitude / 100 % 100)); two(Int64(magnitude % 100))
        }
        out.append(UInt8(ascii: "-")); two(month)
        out.append(UInt8(ascii: "-")); two(day)
        out.append(UInt8(ascii: "T")); two(secondOfDay / 3600)
        out.append(UInt8(ascii: ":")); two(secondOfDay / 60 % 60)
        out.append(UInt8(ascii: ":")); two(secondOfDay % 60)
        out.append(UInt8(ascii: "."))
        var divisor: Int64 = 100_000
        while divisor > 0 { out.append(UInt8(ascii: "0") + UInt8(fraction / divisor % 10)); divisor /= 10 }
        out.append(UInt8(ascii: "Z"))
    }
}
