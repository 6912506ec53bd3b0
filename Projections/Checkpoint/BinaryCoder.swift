import Foundation

/// A compact positional binary form of `Codable` values, for checkpoints of the projections.
///
/// A checkpoint of a 10-million-event journal holds millions of entities: `JSONEncoder` would
/// spell every key of every struct and take longer than the rebuild it saves. Here a struct's
/// members are written in declaration order without their keys (synthesized `Codable` always
/// visits them in that order), optionals carry a presence byte, arrays, sets and dictionaries a
/// count, and UUIDs, dates and hashes their raw bytes. The form is only read back by the same
/// build's types: the checkpoint header records a format version, and the file a checksum.
enum BinaryCoder {
    static func encode<T: Encodable>(_ value: T, into out: inout [UInt8]) throws {
        let storage = BinaryStorage()
        swap(&storage.bytes, &out)
        defer { swap(&storage.bytes, &out) }
        try BinaryWriter(storage).write(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        try decode(type, from: BinarySource(bytes))
    }

    /// Decodes one value that must take every byte of `source`.
    static func decode<T: Decodable>(_ type: T.Type, from source: BinarySource) throws -> T {
        let value = try BinaryReader(source).read(T.self)
        guard source.remaining == 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(source.remaining) bytes left after the value"))
        }
        return value
    }
}

// MARK: - Encoding

final class BinaryStorage {
    var bytes: [UInt8] = []

    @inline(__always) func integer<I: FixedWidthInteger>(_ v: I) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            integer(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
}

/// Collections write their count first, so that reading needs no end marker.
protocol BinaryEncodableCollection {
    func writeBinary(_ writer: BinaryWriter) throws
}

protocol BinaryDecodableCollection {
    static func readBinary(_ reader: BinaryReader) throws -> Self
}

extension Array: BinaryEncodableCollection where Element: Encodable {
    func writeBinary(_ writer: BinaryWriter) throws {
        writer.storage.integer(UInt64(count))
        for element in self { try writer.write(element) }
    }
}

extension Array: BinaryDecodableCollection where Element: Decodable {
    static func readBinary(_ reader: BinaryReader) throws -> Self {
        let n = try reader.count()
        var out: [Element] = []
        out.reserveCapacity(reader.reservation(for: n, of: Element.self))
        for _ in 0..<n { out.append(try reader.read(Element.self)) }
        return out
    }
}

extension Set: BinaryEncodableCollection where Element: Encodable {
    func writeBinary(_ writer: BinaryWriter) throws {
        writer.storage.integer(UInt64(count))
        for element in self { try writer.write(element) }
    }
}

extension Set: BinaryDecodableCollection where Element: Decodable {
    static func readBinary(_ reader: BinaryReader) throws -> Self {
        let n = try reader.count()
        var out = Set<Element>(minimumCapacity: reader.reservation(for: n, of: Element.self))
        for _ in 0..<n { out.insert(try reader.read(Element.self)) }
        return out
    }
}

extension Dictionary: BinaryEncodableCollection where Key: Encodable, Value: Encodable {
    func writeBinary(_ writer: BinaryWriter) throws {
        writer.storage.integer(UInt64(count))
        for (key, value) in self {
            try writer.write(key)
            try writer.write(value)
        }
    }
}

extension Dictionary: BinaryDecodableCollection where Key: Decodable, Value: Decodable {
    static func readBinary(_ reader: BinaryReader) throws -> Self {
        let n = try reader.count()
        var out = Dictionary(minimumCapacity: reader.reservation(for: n, of: (Key, Value).self))
        for _ in 0..<n {
            let key = try reader.read(Key.self)
            out[key] = try reader.read(Value.self)
        }
        return out
    }
}

struct BinaryWriter: Encoder {
    let storage: BinaryStorage
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ storage: BinaryStorage) { self.storage = storage }

    /// Values with a fixed raw form are written directly; everything else through its `Codable`.
    func write<T: Encodable>(_ value: T) throws {
        switch value {
        case let v as UUID: withUnsafeBytes(of: v.uuid) { storage.bytes.append(contentsOf: $0) }
        case let v as Date: storage.integer(v.timeIntervalSince1970.bitPattern)
        case let v as HashKey:
            storage.integer(v.w0); storage.integer(v.w1); storage.integer(v.w2); storage.integer(v.w3)
        case let v as any BinaryEncodableCollection: try v.writeBinary(self)
        default: try value.encode(to: self)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedWriter<Key>(writer: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("BinaryCoder: unkeyed containers are not used by the projections' state")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleWriter(writer: self) }
}

private struct SingleWriter: SingleValueEncodingContainer {
    let writer: BinaryWriter
    var codingPath: [any CodingKey] { [] }
    private var s: BinaryStorage { writer.storage }

    // An optional encodes its absence through here: 0 for nil, 1 before a value.
    mutating func encodeNil() throws { s.integer(UInt8(0)) }
    mutating func encode(_ value: Bool) throws { s.integer(UInt8(1)); s.integer(UInt8(value ? 1 : 0)) }
    mutating func encode(_ value: String) throws { s.integer(UInt8(1)); s.string(value) }
    mutating func encode(_ value: Double) throws { s.integer(UInt8(1)); s.integer(value.bitPattern) }
    mutating func encode(_ value: Float) throws { s.integer(UInt8(1)); s.integer(value.bitPattern) }
    mutating func encode(_ value: Int) throws { s.integer(UInt8(1)); s.integer(Int64(value)) }
    mutating func encode(_ value: Int8) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: Int16) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: Int32) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: Int64) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: UInt) throws { s.integer(UInt8(1)); s.integer(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: UInt16) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: UInt32) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode(_ value: UInt64) throws { s.integer(UInt8(1)); s.integer(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { s.integer(UInt8(1)); try writer.write(value) }
}

private struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: BinaryWriter
    var codingPath: [any CodingKey] { [] }
    private var s: BinaryStorage { writer.storage }

    mutating func encodeNil(forKey key: Key) throws { s.integer(UInt8(0)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { s.integer(UInt8(value ? 1 : 0)) }
    mutating func encode(_ value: String, forKey key: Key) throws { s.string(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { s.integer(value.bitPattern) }
    mutating func encode(_ value: Float, forKey key: Key) throws { s.integer(value.bitPattern) }
    mutating func encode(_ value: Int, forKey key: Key) throws { s.integer(Int64(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { s.integer(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { s.integer(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { s.integer(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try writer.write(value) }

    // Synthesized conformances write optional members through these; the presence byte keeps the
    // layout positional.
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { if let value { s.integer(UInt8(1)); try encode(value, forKey: key) } else { s.integer(UInt8(0)) } }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try optional(value) }

    private func optional<T: Encodable>(_ value: T?) throws {
        guard let value else { s.integer(UInt8(0)); return }
        s.integer(UInt8(1))
        try writer.write(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        writer.container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { writer.unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { writer }
    mutating func superEncoder(forKey key: Key) -> any Encoder { writer }
}

// MARK: - Decoding

/// The bytes being decoded: one buffer, or a file read through a window so that decoding a
/// large state does not first hold all of its bytes in memory.
final class BinarySource {
    let length: Int
    private(set) var offset = 0
    private var window: UnsafeRawBufferPointer
    private var windowStart = 0
    /// Reads at least `count` bytes from `offset` (fewer only at the end) into a buffer valid until the next call.
    private let refill: ((_ offset: Int, _ count: Int) throws -> UnsafeRawBufferPointer)?

    init(_ bytes: UnsafeRawBufferPointer) {
        length = bytes.count
        window = bytes
        refill = nil
    }

    private var chunk = 1 << 20

    init(length: Int, chunk: Int = 1 << 20, refill: @escaping (_ offset: Int, _ count: Int) throws -> UnsafeRawBufferPointer) {
        self.length = length
        self.chunk = chunk
        window = UnsafeRawBufferPointer(start: nil, count: 0)
        self.refill = refill
    }

    var remaining: Int { length - offset }

    @inline(__always) func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, length - offset >= n else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "the data ends inside a value (offset \(offset))"))
        }
        var start = offset - windowStart
        if start + n > window.count {
            guard let refill else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "window")) }
            window = try refill(offset, min(max(n, chunk), length - offset))
            windowStart = offset
            start = 0
            guard window.count >= n else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "short read at offset \(offset)"))
            }
        }
        offset += n
        return UnsafeRawBufferPointer(rebasing: window[start..<(start + n)])
    }

    /// The next byte, left unread.
    func peek() -> UInt8? {
        guard let byte = try? take(1) else { return nil }
        offset -= 1
        return byte[0]
    }

    @inline(__always) func skip() { offset += 1 }

    @inline(__always) func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        I(littleEndian: try take(MemoryLayout<I>.size).loadUnaligned(as: I.self))
    }

    func string() throws -> String {
        let n = Int(try integer(UInt32.self))
        return String(decoding: try take(n), as: UTF8.self)
    }

    func flag() throws -> Bool {
        switch try integer(UInt8.self) {
        case 0: false
        case 1: true
        case let other: throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "presence byte \(other) at offset \(offset - 1)"))
        }
    }
}

struct BinaryReader: Decoder {
    let source: BinarySource
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ source: BinarySource) { self.source = source }

    func count() throws -> Int {
        let n = try source.integer(UInt64.self)
        // Every element takes at least one byte: a larger count is damage, not a reason to allocate.
        guard n <= UInt64(source.remaining) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "count \(n) exceeds the data left"))
        }
        return Int(n)
    }

    /// Elements to reserve room for before decoding a collection of `n`: at most the bytes left
    /// and at most `maximumReservedBytes` of them. A forged count is refused when the data runs
    /// out, rather than by asking the allocator for terabytes up front (which traps); a genuine
    /// large collection grows past the reservation as its elements are decoded, each of which
    /// takes bytes of the data.
    func reservation<Element>(for n: Int, of: Element.Type) -> Int {
        min(n, source.remaining, Self.maximumReservedBytes / max(1, MemoryLayout<Element>.stride))
    }

    static let maximumReservedBytes = 16 << 20

    func read<T: Decodable>(_ type: T.Type) throws -> T {
        if type == UUID.self {
            var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let bytes = try source.take(16)
            withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: bytes) }
            return UUID(uuid: raw) as! T
        }
        if type == Date.self { return Date(timeIntervalSince1970: Double(bitPattern: try source.integer(UInt64.self))) as! T }
        if type == HashKey.self {
            return HashKey(w0: try source.integer(UInt64.self), w1: try source.integer(UInt64.self),
                           w2: try source.integer(UInt64.self), w3: try source.integer(UInt64.self)) as! T
        }
        if let collection = type as? any BinaryDecodableCollection.Type { return try collection.readBinary(self) as! T }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedReader<Key>(reader: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "BinaryCoder has no unkeyed containers"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleReader(reader: self) }
}

private struct SingleReader: SingleValueDecodingContainer {
    let reader: BinaryReader
    var codingPath: [any CodingKey] { [] }
    private var s: BinarySource { reader.source }

    /// Peeks at the presence byte: consumes it only when it says nil.
    func decodeNil() -> Bool {
        guard s.peek() == 0 else { return false }
        s.skip()
        return true
    }

    private func present() throws {
        guard try s.flag() else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: [], debugDescription: "a value was expected at offset \(s.offset - 1)"))
        }
    }

    func decode(_ type: Bool.Type) throws -> Bool { try present(); return try s.flag() }
    func decode(_ type: String.Type) throws -> String { try present(); return try s.string() }
    func decode(_ type: Double.Type) throws -> Double { try present(); return Double(bitPattern: try s.integer(UInt64.self)) }
    func decode(_ type: Float.Type) throws -> Float { try present(); return Float(bitPattern: try s.integer(UInt32.self)) }
    func decode(_ type: Int.Type) throws -> Int { try present(); return Int(try s.integer(Int64.self)) }
    func decode(_ type: Int8.Type) throws -> Int8 { try present(); return try s.integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try present(); return try s.integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try present(); return try s.integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try present(); return try s.integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try present(); return UInt(try s.integer(UInt64.self)) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try present(); return try s.integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try present(); return try s.integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try present(); return try s.integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try present(); return try s.integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try present(); return try reader.read(T.self) }
}

private struct KeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let reader: BinaryReader
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }
    private var s: BinarySource { reader.source }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { !(try s.flag()) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try s.flag() }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try s.string() }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { Double(bitPattern: try s.integer(UInt64.self)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(bitPattern: try s.integer(UInt32.self)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { Int(try s.integer(Int64.self)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try s.integer(Int8.self) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try s.integer(Int16.self) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try s.integer(Int32.self) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try s.integer(Int64.self) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { UInt(try s.integer(UInt64.self)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try s.integer(UInt8.self) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try s.integer(UInt16.self) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try s.integer(UInt32.self) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try s.integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try reader.read(T.self) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try s.flag() ? try decode(type, forKey: key) : nil }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try s.flag() ? try reader.read(T.self) : nil }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try reader.container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try reader.unkeyedContainer() }
    func superDecoder() throws -> any Decoder { reader }
    func superDecoder(forKey key: Key) throws -> any Decoder { reader }
}
