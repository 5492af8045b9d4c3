import CTreesShim
import Testing
@testable import TreesCore

/// The shim's SHA-256 (sha256.c) against FIPS 180-4 / NIST CAVP vectors, fed
/// whole and in uneven pieces, through both block functions (SHA extensions
/// and portable C), which must agree on every length around a block edge.
@Suite(.serialized) struct SHA256Tests {
    static let vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ]

    @Test(arguments: [0, 1] as [Int32])
    func knownVectors(portable: Int32) {
        CT_sha256_force_portable(portable)
        defer { CT_sha256_force_portable(0) }
        for (input, expected) in Self.vectors {
            #expect(SHA256.hash(Array(input.utf8)) == expected, "\(input)")
        }
        // One million 'a's, fed in pieces of 997 bytes (not a multiple of 64).
        let h = SHA256()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 997)
        var left = 1_000_000
        while left > 0 {
            let n = min(left, piece.count)
            piece.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            left -= n
        }
        #expect(h.finish() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func bothBlockFunctionsAgreeOnEveryLengthAroundBlockEdges() {
        var bytes = [UInt8]()
        var x: UInt32 = 0x9e3779b9
        for _ in 0..<1100 { x = x &* 1664525 &+ 1013904223; bytes.append(UInt8(x >> 24)) }
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 1100] {
            let slice = Array(bytes[0..<length])
            CT_sha256_force_portable(1)
            let portable = SHA256.hash(slice)
            CT_sha256_force_portable(0)
            #expect(SHA256.hash(slice) == portable, "length \(length)")
        }
    }
}
