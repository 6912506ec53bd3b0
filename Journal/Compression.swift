import CZstd

/// Frame payload compression with libzstd, reusing one context per instance.
///
/// Not Sendable on purpose: a context belongs to one thread (the writer, or one reader).
final class ZstdCompressor {
    private let context: OpaquePointer
    let level: Int32

    init(level: Int32) {
        context = ZSTD_createCCtx()
        self.level = level
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
    }

    deinit { ZSTD_freeCCtx(context) }

    private var output: [UInt8] = []

    /// Compresses `source` into a buffer reused across calls; nil when zstd fails or the result
    /// would not be smaller. The pointer is valid until the next call.
    func compress(_ source: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let bound = ZSTD_compressBound(source.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress, bound, source.baseAddress, source.count)
        }
        if ZSTD_isError(written) != 0 || written >= source.count { return nil }
        return output.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0..<written]) }
    }
}

final class ZstdDecompressor {
    private let context: OpaquePointer

    init() { context = ZSTD_createDCtx() }
    deinit { ZSTD_freeDCtx(context) }

    enum Failure: Error { case corrupt(String), wrongSize(expected: Int, actual: Int) }

    /// Decompresses into `output`, which must hold exactly `expectedSize` bytes afterwards.
    func decompress(_ source: UnsafeRawBufferPointer, expectedSize: Int, into output: inout [UInt8]) throws(Failure) {
        // FORMAT.md: exactly one zstd frame. libzstd would also take several back to back, or a
        // skippable frame first; a reader in another language, following the format, might not.
        let frameSize = ZSTD_findFrameCompressedSize(source.baseAddress, source.count)
        if ZSTD_isError(frameSize) != 0 { throw .corrupt(String(cString: ZSTD_getErrorName(frameSize))) }
        if frameSize != source.count { throw .corrupt("not exactly one zstd frame: the first ends at byte \(frameSize) of \(source.count)") }
        if output.count < expectedSize { output = [UInt8](repeating: 0, count: expectedSize) }
        let n = output.withUnsafeMutableBytes { out in
            ZSTD_decompressDCtx(context, out.baseAddress, expectedSize, source.baseAddress, source.count)
        }
        if ZSTD_isError(n) != 0 { throw .corrupt(String(cString: ZSTD_getErrorName(n))) }
        if n != expectedSize { throw .wrongSize(expected: expectedSize, actual: n) }
    }
}
