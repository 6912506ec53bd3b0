import CJournalSupport

/// Incremental SHA-256 through CJournalSupport (the CPU's SHA extensions when it has them), so a
/// frame's chain hash is computed without concatenating buffers and without a heap context.
struct ChainHasher {
    private var context = registre_sha256_context()

    init() { registre_sha256_init(&context) }

    /// The portable C code whatever the CPU: tests check it against the accelerated one.
    init(portable: Bool) {
        if portable { registre_sha256_init_portable(&context) } else { registre_sha256_init(&context) }
    }

    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    mutating func update(_ bytes: UnsafeRawBufferPointer) { registre_sha256_update(&context, bytes.baseAddress, bytes.count) }

    /// `update(bytes)`, and the Merkle leaf hash of every record `leaves` located in `records`,
    /// computed side by side: two independent SHA-256 streams keep the CPU's SHA unit busy where
    /// one waits on the latency of its own rounds.
    mutating func update(_ bytes: UnsafeRawBufferPointer, hashingLeaves leaves: inout FrameLeaves, of records: UnsafeRawBufferPointer) {
        leaves.hash(records) { offsets, lengths, count, digests in
            registre_sha256_chain_and_leaves(&context, bytes.baseAddress, bytes.count, records.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                             offsets, lengths, count, digests)
        }
    }

    func finish() -> Digest32 {
        var finishing = context
        return Digest32.written { registre_sha256_final(&finishing, $0) }
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> Digest32 {
        var h = ChainHasher()
        h.update(bytes)
        return h.finish()
    }

    /// Whether the SHA extensions are in use (reported beside the CRC's hardware flag).
    static var isHardwareAccelerated: Bool { registre_sha256_is_hardware() != 0 }
}
