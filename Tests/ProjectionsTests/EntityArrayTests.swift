import Foundation
import Testing
@testable import Projections

@Suite("Entity arrays")
struct EntityArrayTests {
    @Test("appends keep every element through growth, reference-counted ones included")
    func growth() {
        var array = EntityArray<String>()
        var reference: [String] = []
        for k in 0..<20_000 {
            array.append("entity \(k)")
            reference.append("entity \(k)")
        }
        #expect(array.count == 20_000)
        #expect(array.capacity >= 20_000)
        #expect(Array(array) == reference)
        array[12_345] += " changed"
        #expect(array[12_345] == "entity 12345 changed")
        #expect(array[12_344] == "entity 12344")
    }

    @Test("a copy is a value: mutating or growing one leaves the other as it was")
    func copyOnWrite() {
        var a = EntityArray((0..<1000).map { [$0] })
        let b = a
        a[7].append(99)
        a.append([-1])
        for k in 0..<5000 { a.append([k]) }
        #expect(b.count == 1000)
        #expect(b[7] == [7])
        #expect(a[7] == [7, 99])
        #expect(a.count == 6001)
        var c = b
        c.withUnsafeMutableBufferPointer { $0[0] = [42] }
        #expect(b[0] == [0])
        #expect(c[0] == [42])
    }

    @Test("zeroed buffers read as zeros, small and large (a mapping of their own), and stay values")
    func zeros() {
        // 8 MiB of buckets: above the size that gets a mapping aligned for huge pages.
        for n in [0, 1000, 1 << 20] {
            var zeros = EntityArray<UInt64>(zeros: n)
            #expect(zeros.count == n)
            #expect(zeros.allSatisfy { $0 == 0 })
            guard n > 0 else { continue }
            let before = zeros
            zeros[n - 1] = 7
            zeros[0] = 3
            #expect(before[n - 1] == 0 && before[0] == 0)
            // Growing a mapped buffer moves it into ordinary memory with its contents.
            zeros.append(11)
            #expect(zeros.count == n + 1)
            #expect(zeros[0] == 3 && zeros[n - 1] == 7 && zeros[n] == 11)
            #expect(zeros.dropFirst().dropLast(2).allSatisfy { $0 == 0 })
        }
    }

    @Test("encoded exactly as Array is, in checkpoints and in JSON, and decoded back")
    func encoding() throws {
        let values: [Int64] = (0..<500).map { Int64($0) * 1_000_003 - 250_000_000 }
        let entities = EntityArray(values)
        var arrayBytes: [UInt8] = [], entityBytes: [UInt8] = []
        try BinaryCoder.encode(values, into: &arrayBytes)
        try BinaryCoder.encode(entities, into: &entityBytes)
        #expect(arrayBytes == entityBytes)
        let decoded = try entityBytes.withUnsafeBytes { try BinaryCoder.decode(EntityArray<Int64>.self, from: $0) }
        #expect(decoded == entities)
        #expect(try JSONEncoder().encode(entities) == JSONEncoder().encode(values))
        #expect(try JSONDecoder().decode(EntityArray<Int64>.self, from: JSONEncoder().encode(values)) == entities)
        #expect(EntityArray<Int64>() == EntityArray([]))
        #expect(entities != EntityArray(values.dropLast()))
    }

    /// A forged checkpoint's count may be as large as the data left, which a large file makes
    /// terabytes of elements: room is reserved for a bounded number, so the count is refused
    /// when the elements run out. The data here is 2^45 + 8 bytes long without being held: the
    /// source hands out bytes that are not a valid element (a presence byte of 0xFF).
    @Test("a collection count as large as the data left is a decoding error, not a reservation of terabytes that traps")
    func forgedCountIsADecodingError() throws {
        let count: UInt64 = 1 << 45
        let window = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { window.deallocate() }
        func forged() -> BinarySource {
            BinarySource(length: 8 + Int(count), chunk: 64) { offset, n in
                precondition(n <= window.count)
                for i in 0..<n { window[i] = offset + i < 8 ? UInt8(truncatingIfNeeded: count >> (8 * UInt64(offset + i))) : 0xFF }
                return UnsafeRawBufferPointer(rebasing: window[0..<n])
            }
        }
        #expect(throws: DecodingError.self) { try BinaryCoder.decode(EntityArray<UInt64>.self, from: forged()) }
        #expect(throws: DecodingError.self) { try BinaryCoder.decode([UInt64].self, from: forged()) }
        #expect(throws: DecodingError.self) { try BinaryCoder.decode(Set<UInt64>.self, from: forged()) }
        #expect(throws: DecodingError.self) { try BinaryCoder.decode([UInt64: UInt64].self, from: forged()) }
    }

    @Test("an index past the size of a huge-page mapping still finds every key and no other")
    func largeIndex() {
        // 300,000 keys take 1 M buckets (8 MiB), so the last tables are mappings of their own.
        var table = KeyTable<UInt64>()
        let keys = (0..<300_000).map { UInt64($0) << 33 | 5 }
        var missing = 0, wrong = 0
        for (k, key) in keys.enumerated() where table.insert(key) != (true, Int32(k)) { missing += 1 }
        for (k, key) in keys.enumerated() where table.ordinal(of: key) != Int32(k) { missing += 1 }
        for k in 0..<300_000 where table.ordinal(of: UInt64(k) << 33 | 6) != nil { wrong += 1 }
        #expect(missing == 0)
        #expect(wrong == 0)
        #expect(table.count == keys.count)
    }
}
