import Crypto

/// Incremental SHA-256, so a frame's chain hash is computed without concatenating buffers.
struct ChainHasher {
    private var inner = SHA256()

    mutating func update(_ bytes: [UInt8]) { inner.update(data: bytes) }
    mutating func update(_ bytes: UnsafeRawBufferPointer) { inner.update(bufferPointer: bytes) }
    func finish() -> Digest32 { Digest32(inner.finalize()) }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> Digest32 {
        var h = ChainHasher()
        h.update(bytes)
        return h.finish()
    }
}
