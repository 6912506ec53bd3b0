import Crypto
import Foundation
import Testing
@testable import Journal

/// The journal's own SHA-256 (CJournalSupport) is what binds the chain and the Merkle tree: it
/// must agree with swift-crypto byte for byte, through the SHA extensions and without them.
@Suite struct SHA256Tests {
    private func ours(_ bytes: [UInt8], portable: Bool, splitAt cuts: [Int] = []) -> Digest32 {
        var h = ChainHasher(portable: portable)
        var start = 0
        bytes.withUnsafeBytes { raw in
            for cut in cuts.sorted() + [bytes.count] where cut >= start {
                h.update(UnsafeRawBufferPointer(rebasing: raw[start..<cut]))
                start = cut
            }
        }
        return h.finish()
    }

    @Test("the FIPS 180-2 examples")
    func knownAnswers() {
        let cases: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ]
        for (text, hex) in cases {
            #expect(ours(Array(text.utf8), portable: false).hex == hex)
            #expect(ours(Array(text.utf8), portable: true).hex == hex)
        }
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(ours(million, portable: false, splitAt: [1, 63, 64, 65, 500_000]).hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("every length from 0 to 700 bytes, in one piece and in several, agrees with swift-crypto")
    func agreesWithSwiftCrypto() {
        var rng = SystemRandomNumberGenerator()
        for length in 0...700 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let expected = Digest32(SHA256.hash(data: bytes))
            let cuts = (0..<3).map { _ in Int.random(in: 0...length, using: &rng) }
            #expect(ours(bytes, portable: false) == expected, "length \(length)")
            #expect(ours(bytes, portable: true, splitAt: cuts) == expected, "length \(length), portable")
            #expect(ours(bytes, portable: false, splitAt: cuts) == expected, "length \(length), cut at \(cuts)")
        }
    }

    @Test("Merkle leaves and nodes are SHA-256 of 0x00 ‖ record and 0x01 ‖ left ‖ right")
    func merklePrefixes() {
        let record: [UInt8] = Array("a record, length prefix and all".utf8)
        let leaf = record.withUnsafeBytes { MerkleHash.leaf($0) }
        #expect(leaf == Digest32(SHA256.hash(data: [0] + record)))
        let node = MerkleHash.node(leaf, MerkleHash.empty)
        #expect(node == Digest32(SHA256.hash(data: [1] + leaf.bytes + MerkleHash.empty.bytes)))
        #expect(MerkleHash.empty == Digest32(SHA256.hash(data: [UInt8]())))
    }

    /// A payload of records as the journal lays them out: a little-endian length prefix (the
    /// record's length minus 4) then that many bytes.
    private func records(lengths: [Int], trailing: Int, using rng: inout SystemRandomNumberGenerator) -> [UInt8] {
        var payload: [UInt8] = []
        for length in lengths {
            payload += withUnsafeBytes(of: UInt32(length - 4).littleEndian) { Array($0) }
            payload += (0..<(length - 4)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        return payload + (0..<trailing).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    @Test("the chain hash and the leaves computed side by side equal the hashes computed one by one")
    func chainAndLeavesSideBySide() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<400 {
            let count = Int.random(in: 0...30, using: &rng)
            // Around every block boundary of 0x00 ‖ record, and the sizes of real records.
            let lengths = (0..<count).map { _ in
                Bool.random(using: &rng) ? JournalFormat.recordFixedSize + Int.random(in: 0...140, using: &rng) : Int.random(in: 58...900, using: &rng)
            }
            let payload = records(lengths: lengths, trailing: trial % 3 == 0 ? Int.random(in: 1...70, using: &rng) : 0, using: &rng)
            let prefix = (0..<Int.random(in: 0...130, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for portable in [false, true] {
                var together = ChainHasher(portable: portable)
                var apart = ChainHasher(portable: portable)
                prefix.withUnsafeBytes { together.update($0); apart.update($0) }
                var leaves = FrameLeaves()
                payload.withUnsafeBytes { raw in
                    leaves.locate(in: raw)
                    together.update(raw, hashingLeaves: &leaves, of: raw)
                    apart.update(raw)
                    var offset = 0
                    for (index, length) in lengths.enumerated() {
                        let record = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])
                        #expect(leaves.leaf(index, of: record, in: raw) == MerkleHash.leaf(record), "trial \(trial), record \(index), portable \(portable)")
                        #expect(leaves.leaf(index, of: record, in: raw) == Digest32(SHA256.hash(data: [0] + Array(record))))
                        offset += length
                    }
                }
                #expect(together.finish() == apart.finish(), "trial \(trial), portable \(portable)")
            }
        }
    }

    @Test("a precomputed leaf is used only for the record it was computed for")
    func precomputedLeafOnlyForItsRecord() {
        var rng = SystemRandomNumberGenerator()
        let payload = records(lengths: [100, 200, 300], trailing: 0, using: &rng)
        payload.withUnsafeBytes { raw in
            var leaves = FrameLeaves()
            leaves.locate(in: raw)
            var hasher = ChainHasher()
            hasher.update(raw, hashingLeaves: &leaves, of: raw)
            let second = UnsafeRawBufferPointer(rebasing: raw[100..<300])
            #expect(leaves.leaf(1, of: second, in: raw) == MerkleHash.leaf(second))
            // Asked for the first leaf with other bytes (a walk that cut the records elsewhere).
            let shorter = UnsafeRawBufferPointer(rebasing: raw[100..<250])
            #expect(leaves.leaf(1, of: shorter, in: raw) == MerkleHash.leaf(shorter))
            #expect(leaves.leaf(0, of: second, in: raw) == MerkleHash.leaf(second))
            #expect(leaves.leaf(3, of: second, in: raw) == MerkleHash.leaf(second))
        }
    }

    @Test("a CPU that lists sha_ni in /proc/cpuinfo gets the SHA extensions, and one that does not gets the portable code")
    func usesTheHardwareWhenPresent() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        // x86 lists "flags"; elsewhere there is no such line, and no hardware path either.
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? []
        let listed = flags.contains("sha_ni") && flags.contains("sse4_1") && flags.contains("ssse3")
        #expect(ChainHasher.isHardwareAccelerated == listed)
    }
}
