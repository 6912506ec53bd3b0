import Foundation
import Testing
@testable import Journal

/// RFC 6962 §2.1 written as the RFC states it, recursively over a list of leaves, to check the
/// journal's range-based proofs and RFC 9162 verifiers against.
enum NaiveRFC6962 {
    static func mth(_ d: ArraySlice<Digest32>) -> Digest32 {
        if d.isEmpty { return MerkleHash.empty }
        if d.count == 1 { return d.first! }
        let k = largestPowerOfTwoBelow(d.count)
        return MerkleHash.node(mth(d.prefix(k)), mth(d.dropFirst(k)))
    }

    static func largestPowerOfTwoBelow(_ n: Int) -> Int {
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }

    static func path(_ m: Int, _ d: ArraySlice<Digest32>) -> [Digest32] {
        if d.count <= 1 { return [] }
        let k = largestPowerOfTwoBelow(d.count)
        if m < k { return path(m, d.prefix(k)) + [mth(d.dropFirst(k))] }
        return path(m - k, d.dropFirst(k)) + [mth(d.prefix(k))]
    }

    static func subproof(_ m: Int, _ d: ArraySlice<Digest32>, _ b: Bool) -> [Digest32] {
        if m == d.count { return b ? [] : [mth(d)] }
        let k = largestPowerOfTwoBelow(d.count)
        if m <= k { return subproof(m, d.prefix(k), b) + [mth(d.dropFirst(k))] }
        return subproof(m - k, d.dropFirst(k), false) + [mth(d.prefix(k))]
    }

    static func proof(_ m: Int, _ d: ArraySlice<Digest32>) -> [Digest32] { subproof(m, d, true) }
}

@Suite("Merkle proofs")
struct MerkleProofTests {
    static let leaves: [Digest32] = (0..<72).map { i in
        Array("leaf \(i)".utf8).withUnsafeBytes { MerkleHash.leaf($0) }
    }

    static func hashes(_ ranges: [Range<UInt64>]) -> [Digest32] {
        var hasher = MerkleRangeHasher(ranges: ranges)
        for (i, leaf) in leaves.enumerated() { hasher.add(leaf: leaf, at: UInt64(i)) }
        return hasher.roots
    }

    @Test("the frontier's root is the RFC's tree hash for every size up to 70")
    func rootsAgree() {
        for n in 0...70 {
            var f = MerkleFrontier()
            for leaf in Self.leaves.prefix(n) { f.append(leaf: leaf) }
            #expect(f.root == NaiveRFC6962.mth(Self.leaves.prefix(n)), "size \(n)")
        }
    }

    @Test("inclusion proofs equal the RFC's PATH and verify, for every leaf of every tree up to 70")
    func inclusionProofs() {
        for n in 1...70 {
            let tree = Self.leaves.prefix(n)
            let root = NaiveRFC6962.mth(tree)
            for m in 0..<n {
                let proof = Self.hashes(MerkleProof.inclusionRanges(leaf: UInt64(m), treeSize: UInt64(n)))
                #expect(proof == NaiveRFC6962.path(m, tree), "leaf \(m) of \(n)")
                #expect(MerkleProof.verifyInclusion(leafHash: Self.leaves[m], leafIndex: UInt64(m), treeSize: UInt64(n), proof: proof, root: root))
                // Any other leaf, index, size or a changed hash must fail.
                #expect(!MerkleProof.verifyInclusion(leafHash: Self.leaves[n], leafIndex: UInt64(m), treeSize: UInt64(n), proof: proof, root: root))
                if n > 1 {
                    #expect(!MerkleProof.verifyInclusion(leafHash: Self.leaves[m], leafIndex: UInt64((m + 1) % n), treeSize: UInt64(n), proof: proof, root: root))
                    var bent = proof
                    bent[m % bent.count] = Self.leaves[71]
                    #expect(!MerkleProof.verifyInclusion(leafHash: Self.leaves[m], leafIndex: UInt64(m), treeSize: UInt64(n), proof: bent, root: root))
                }
            }
        }
    }

    /// Sizes from 0: a writer that opens an empty journal and closes signs position 0, the empty
    /// tree, which every tree extends with an empty proof (RFC 6962 defines PROOF for 0 < m only).
    @Test("consistency proofs equal the RFC's PROOF and verify, for every pair of sizes up to 70, the empty tree included")
    func consistencyProofs() {
        for n in 0...70 {
            let newRoot = NaiveRFC6962.mth(Self.leaves.prefix(n))
            for m in 0...n {
                let oldRoot = NaiveRFC6962.mth(Self.leaves.prefix(m))
                let proof = Self.hashes(MerkleProof.consistencyRanges(oldSize: UInt64(m), newSize: UInt64(n)))
                #expect(proof == (m == n || m == 0 ? [] : NaiveRFC6962.proof(m, Self.leaves.prefix(n))), "\(m) → \(n)")
                #expect(MerkleProof.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(n), oldRoot: oldRoot, newRoot: newRoot, proof: proof), "\(m) → \(n)")
                if m == 0 {
                    // Only the empty tree's root, and no proof hash, make an old tree of size 0.
                    #expect(oldRoot == MerkleHash.empty)
                    #expect(!MerkleProof.verifyConsistency(oldSize: 0, newSize: UInt64(n), oldRoot: Self.leaves[71], newRoot: newRoot, proof: proof), "0 → \(n)")
                    #expect(!MerkleProof.verifyConsistency(oldSize: 0, newSize: UInt64(n), oldRoot: oldRoot, newRoot: newRoot, proof: [Self.leaves[71]]), "0 → \(n)")
                } else if m < n {
                    // A different old tree (one leaf replaced) is not a prefix of the new one.
                    var other = Array(Self.leaves.prefix(m))
                    other[m - 1] = Self.leaves[71]
                    let otherRoot = NaiveRFC6962.mth(other[...])
                    #expect(!MerkleProof.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(n), oldRoot: otherRoot, newRoot: newRoot, proof: proof))
                    var bent = proof
                    bent[bent.count - 1] = Self.leaves[71]
                    #expect(!MerkleProof.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(n), oldRoot: oldRoot, newRoot: newRoot, proof: bent))
                    #expect(!MerkleProof.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(n), oldRoot: oldRoot, newRoot: newRoot, proof: []))
                }
            }
        }
    }

    @Test("the hand-computed tree of three leaves")
    func threeLeaves() {
        let (a, b, c) = (Self.leaves[0], Self.leaves[1], Self.leaves[2])
        let root = MerkleHash.node(MerkleHash.node(a, b), c)
        #expect(MerkleProof.inclusionRanges(leaf: 2, treeSize: 3) == [0..<2])
        #expect(MerkleProof.inclusionRanges(leaf: 0, treeSize: 3) == [1..<2, 2..<3])
        #expect(MerkleProof.verifyInclusion(leafHash: c, leafIndex: 2, treeSize: 3, proof: [MerkleHash.node(a, b)], root: root))
        #expect(MerkleProof.consistencyRanges(oldSize: 2, newSize: 3) == [2..<3])
        #expect(MerkleProof.verifyConsistency(oldSize: 2, newSize: 3, oldRoot: MerkleHash.node(a, b), newRoot: root, proof: [c]))
    }
}
