/// Spreads a 64-bit key over all 64 bits before it picks a bucket.
///
/// The rule replay's aggregate tables and the audit's event-id ledger both index open-addressing
/// tables by the low bits of keys that are partly structured (UUID halves, truncated hashes), so
/// both need every input bit to reach every output bit; one definition keeps them alike.
public enum BitMixing {
    /// The MurmurHash3 64-bit finaliser.
    @inlinable @inline(__always)
    public static func murmurFinalizer(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }
}
