import BastionCrypto
import Testing

/// Hex to bytes for known-answer vectors.
private func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index ..< next], radix: 16) ?? 0)
        index = next
    }
    return bytes
}

@Suite("AES-256-GCM with caller nonces, incremental SHA-256, HKDF")
struct AESGCMCipherTests {
    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14
    /// (AES-256, zero key, zero 96-bit IV).
    @Test func knownAnswers() throws {
        let cipher = try AESGCMCipher(key: SymmetricKey(bytes: [UInt8](repeating: 0, count: 32)))
        let nonce = [UInt8](repeating: 0, count: 12)
        #expect(try cipher.seal([], nonce: nonce, authenticating: []) == hex("530f8afbc74536b9a963b4f1c4cb738b"))
        #expect(try cipher.seal([UInt8](repeating: 0, count: 16), nonce: nonce, authenticating: [])
            == hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"))
        #expect(try cipher.open(hex("530f8afbc74536b9a963b4f1c4cb738b"), nonce: nonce, authenticating: []) == [])
    }

    /// One instance keeps its key across calls with different nonces, and tells every
    /// mismatch apart from success but not from each other.
    @Test func reuseAndTampering() throws {
        let cipher = try AESGCMCipher(key: SymmetricKey.random())
        let plaintext = Array("line of output\r\n".utf8)
        let aad = Array("header".utf8)
        for counter in UInt8(0) ..< 4 {
            let nonce = [UInt8](repeating: 0, count: 11) + [counter]
            let sealed = try cipher.seal(plaintext, nonce: nonce, authenticating: aad)
            #expect(sealed.count == plaintext.count + 16)
            #expect(try cipher.open(sealed, nonce: nonce, authenticating: aad) == plaintext)
            var flipped = sealed
            flipped[0] ^= 1
            let failed = CryptoError(.authenticationFailed, "")
            #expect(throws: failed) { try cipher.open(flipped, nonce: nonce, authenticating: aad) }
            #expect(throws: failed) { try cipher.open(sealed, nonce: [UInt8](repeating: 9, count: 12), authenticating: aad) }
            #expect(throws: failed) { try cipher.open(sealed, nonce: nonce, authenticating: []) }
            #expect(throws: failed) { try cipher.open(Array(sealed.prefix(15)), nonce: nonce, authenticating: aad) }
            #expect(throws: failed) { try cipher.open(sealed, nonce: Array(nonce.prefix(8)), authenticating: aad) }
        }
    }

    @Test func incrementalSHA256MatchesOneShot() {
        let message = (0 ..< 100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hasher = IncrementalSHA256()
        var start = 0
        for size in [0, 1, 63, 64, 65, 4096, 30_000] {
            hasher.update(Array(message[start ..< start + size]))
            start += size
        }
        hasher.update(Array(message[start...]))
        #expect(hasher.finalize() == SHA256.hash(message))
        // finalize resets: the next digest is of the empty message.
        #expect(hasher.finalize() == SHA256.hash([]))
    }

    /// RFC 5869 Appendix A.1 and A.3.
    @Test func hkdfVectors() {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        #expect(HKDF.sha256(key: ikm, salt: hex("000102030405060708090a0b0c"), info: hex("f0f1f2f3f4f5f6f7f8f9"), outputByteCount: 42)
            == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
        #expect(HKDF.sha256(key: ikm, salt: [], info: [], outputByteCount: 42)
            == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
    }
}
