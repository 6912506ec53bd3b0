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
