/// A split-block Bloom filter of event-id hashes: answers "certainly not committed" for most new
/// ids with one cache line, instead of a lookup in every sealed segment's index.
///
/// Every append that carries its own ids asks whether they are committed (idempotency, and the
/// journal-wide uniqueness the audit checks), and almost always they are not: without a filter
/// that is one index lookup per sealed segment per id, a cost that grows with the journal (thirty
/// lookups an id at ten million events). Keys are the low 32 bits of `IndexHash.hash(id)`, which
/// the index files store, so a filter can be rebuilt from the indexes alone. Each key sets one
/// bit in each of the eight words of one 64-byte block (the layout Parquet and Impala use);
/// at 16 bits a key about 0.05 % of absent ids are let through to the indexes.
final class EventIDFilter: Sendable {
    private let words: [UInt64]
    private let blockCount: Int

    /// A filter of `count` keys, fed by `fill`.
    init(count: Int, fill: ((UInt64) -> Void) -> Void) {
        let blocks = max(1, (count * 16 + 511) / 512)
        var words = [UInt64](repeating: 0, count: blocks * 8)
        words.withUnsafeMutableBufferPointer { w in
            fill { hash in
                let (block, bits) = Self.place(hash, blocks: blocks)
                for i in 0..<8 { w[block * 8 + i] |= 1 << ((bits >> (6 * UInt64(i))) & 63) }
            }
        }
        self.words = words
        blockCount = blocks
    }

    /// False only if no key fed to the filter hashes like `hash`.
    func mayContain(_ hash: UInt64) -> Bool {
        let (block, bits) = Self.place(hash, blocks: blockCount)
        return words.withUnsafeBufferPointer { w in
            for i in 0..<8 where w[block * 8 + i] & (1 << ((bits >> (6 * UInt64(i))) & 63)) == 0 { return false }
            return true
        }
    }

    /// The block and the eight bit numbers (6 bits each) of a key.
    @inline(__always)
    private static func place(_ hash: UInt64, blocks: Int) -> (block: Int, bits: UInt64) {
        var x = UInt64(UInt32(truncatingIfNeeded: hash)) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        x &*= 0xBF58_476D_1CE4_E5B9
        x ^= x >> 32
        let block = Int(((x >> 32) &* UInt64(blocks)) >> 32)
        var y = x &* 0x94D0_49BB_1331_11EB
        y ^= y >> 31
        return (block, y)
    }
}
