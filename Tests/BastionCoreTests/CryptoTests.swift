import BastionCrypto
import BastionTesting
import Testing

/// Hex helpers for known-answer vectors.
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

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite("BastionCrypto primitives")
struct CryptoTests {
    @Test("SHA-256 of \"abc\" (FIPS 180-4 example)")
    func sha256() {
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("HMAC-SHA1, RFC 2202 test cases 1 and 2")
    func hmacSHA1() {
        #expect(hex(HMAC.sha1(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
            == "b617318655057264e28bc0b6fb378c8ef146be00")
        #expect(hex(HMAC.sha1(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    @Test("HMAC-SHA256, RFC 4231 test cases 1 and 2")
    func hmacSHA256() {
        #expect(hex(HMAC.sha256(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(hex(HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("HMAC with an empty key and message is the RFC-defined value, not a crash")
    func hmacEmpty() {
        #expect(hex(HMAC.sha256(key: [], message: []))
            == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("Ed25519 RFC 8032 §7.1 test 1: public key and signature")
    func ed25519Vector() throws {
        let key = try Ed25519PrivateKey(seed: hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(hex(key.publicKey.rawRepresentation) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = try key.signature(for: [])
        #expect(hex(signature) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.publicKey.isValidSignature(signature, for: []))
    }

    @Test("Ed25519 sign/verify; tampered signature, other message and other key fail")
    func ed25519SignVerify() throws {
        let key = try Ed25519PrivateKey()
        let message = Array("certificate bytes".utf8)
        let signature = try key.signature(for: message)
        #expect(key.publicKey.isValidSignature(signature, for: message))

        var tampered = signature
        tampered[10] ^= 0x01
        #expect(!key.publicKey.isValidSignature(tampered, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: message + [0]))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: message))
        #expect(try !Ed25519PrivateKey().publicKey.isValidSignature(signature, for: message))

        let restored = try Ed25519PrivateKey(seed: key.seed)
        #expect(restored.publicKey == key.publicKey)
        #expect(try Ed25519PublicKey(rawRepresentation: key.publicKey.rawRepresentation) == key.publicKey)
    }

    /// Each key holds one OpenSSL key object, built once and shared by every thread that signs
    /// or verifies with it (the CAs serve every SSH connection thread at once).
    @Test("one Ed25519 key signs and verifies from 8 threads at once, every result right")
    func ed25519SharedAcrossThreads() async throws {
        let key = try Ed25519PrivateKey()
        let other = try Ed25519PrivateKey().publicKey
        let failures = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    (try? await offPool {
                        var failures = 0
                        for round in 0..<150 {
                            let message = Array("worker \(worker) round \(round)".utf8)
                            guard let signature = try? key.signature(for: message) else { failures += 1; continue }
                            if !key.publicKey.isValidSignature(signature, for: message) { failures += 1 }
                            if key.publicKey.isValidSignature(signature, for: message + [1]) { failures += 1 }
                            if other.isValidSignature(signature, for: message) { failures += 1 }
                        }
                        return failures
                    }) ?? 1_000
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }

    @Test("Ed25519 refuses wrong key sizes; description hides the seed")
    func ed25519Sizes() throws {
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(seed: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: CryptoError.self) { try Ed25519PublicKey(rawRepresentation: [UInt8](repeating: 1, count: 33)) }
        let key = try Ed25519PrivateKey()
        #expect(!String(describing: key).contains(hex(key.seed)))
    }

    @Test("AES-256-GCM round trip, including empty plaintext and AAD")
    func aesRoundTrip() throws {
        let key = SymmetricKey.random()
        let plaintext = Array("JBSWY3DPEHPK3PXP".utf8)
        let sealed = try AESGCM.seal(plaintext, using: key, authenticating: Array("alice".utf8))
        #expect(sealed.count == 12 + plaintext.count + 16)
        #expect(try AESGCM.open(sealed, using: key, authenticating: Array("alice".utf8)) == plaintext)

        let empty = try AESGCM.seal([], using: key, authenticating: [])
        #expect(empty.count == 28)
        #expect(try AESGCM.open(empty, using: key, authenticating: []) == [])

        // A fresh random nonce every time: sealing twice never gives the same bytes.
        #expect(try AESGCM.seal(plaintext, using: key, authenticating: []) != AESGCM.seal(plaintext, using: key, authenticating: []))
    }

    @Test("AES-256-GCM: tampered ciphertext, tag, nonce, wrong key, wrong AAD, truncation all fail")
    func aesFailures() throws {
        let key = SymmetricKey.random()
        let aad = Array("bastion/totp/v1/alice".utf8)
        let sealed = try AESGCM.seal(Array("secret seed".utf8), using: key, authenticating: aad)
        for index in [0, 12, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 0x80
            #expect(throws: CryptoError(.authenticationFailed, "")) { try AESGCM.open(tampered, using: key, authenticating: aad) }
        }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, using: SymmetricKey.random(), authenticating: aad) }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, using: key, authenticating: Array("bastion/totp/v1/bob".utf8)) }
        #expect(throws: CryptoError.self) { try AESGCM.open(Array(sealed.prefix(27)), using: key, authenticating: aad) }
        #expect(throws: CryptoError.self) { try SymmetricKey(bytes: [UInt8](repeating: 0, count: 16)) }
        #expect(try SymmetricKey(bytes: key.bytes).bytes == key.bytes)
        #expect(String(describing: key) == "SymmetricKey(redacted)")
    }

    @Test("constantTimeEquals and SecureRandom")
    func compareAndRandom() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(constantTimeEquals([], []))
        #expect(SecureRandom.bytes(0).isEmpty)
        #expect(SecureRandom.bytes(32).count == 32)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(SecureRandom.uint64() != SecureRandom.uint64())
    }
}
