import BastionCore
import BastionCrypto
import Testing

@Suite("Envelope encryption of secrets at rest")
struct EnvelopeTests {
    let keyring = MasterKeyring(current: SoftwareMasterKey(key: .random(), version: 3))
    let alice = UserName("alice")!

    @Test("a sealed secret opens with its context and names its master key version")
    func roundTrip() throws {
        let sealed = try Envelope.seal([1, 2, 3], keyring: keyring, context: Array("ctx".utf8))
        #expect(try Envelope.open(sealed, keyring: keyring, context: Array("ctx".utf8)) == [1, 2, 3])
        #expect(try Envelope.parse(sealed).version == 3)
        #expect(throws: (any Error).self) { try Envelope.open(sealed, keyring: keyring, context: Array("other".utf8)) }
    }

    @Test("each secret gets its own data key: sealing twice never gives the same bytes")
    func freshDataKeys() throws {
        let first = try Envelope.parse(Envelope.seal([7], keyring: keyring, context: []))
        let second = try Envelope.parse(Envelope.seal([7], keyring: keyring, context: []))
        #expect(first.wrapped != second.wrapped)
    }

    @Test("another installation's master key opens nothing, and a missing version is named")
    func wrongMasterKey() throws {
        let sealed = try Envelope.seal([9], keyring: keyring, context: [])
        let stranger = MasterKeyring(current: SoftwareMasterKey(key: .random(), version: 3))
        #expect(throws: (any Error).self) { try Envelope.open(sealed, keyring: stranger, context: []) }
        let older = MasterKeyring(current: SoftwareMasterKey(key: .random(), version: 1))
        #expect(throws: EnvelopeError.self) { try Envelope.open(sealed, keyring: older, context: []) }
    }

    @Test("a flipped bit anywhere in an envelope makes it fail to open")
    func tampering() throws {
        let sealed = try Envelope.seal(Array(repeating: 5, count: 20), keyring: keyring, context: [])
        for index in sealed.indices {
            var bad = sealed
            bad[index] ^= 0x01
            #expect(throws: (any Error).self) { try Envelope.open(bad, keyring: keyring, context: []) }
        }
    }

    @Test("TOTP seeds are envelopes now, and seeds sealed before envelopes still open")
    func totpSeeds() throws {
        let master = SymmetricKey.random()
        let sealer = SecretSealer(masterKey: master)
        let secret = TOTPSecret(bytes: Array(repeating: 0x42, count: 20))
        let sealed = try sealer.sealTOTPSecret(secret, for: alice)
        #expect(Envelope.isEnvelope(sealed))
        #expect(try sealer.openTOTPSecret(sealed, for: alice).bytes == secret.bytes)
        let legacy = try AESGCM.seal(secret.bytes, using: master, authenticating: Array("bastion/totp/v1/alice".utf8))
        #expect(try sealer.openTOTPSecret(legacy, for: alice).bytes == secret.bytes)
        // Moving a sealed seed to another user's row fails to open.
        #expect(throws: (any Error).self) { try sealer.openTOTPSecret(sealed, for: UserName("bob")!) }
    }

    @Test("with an HSM master key there is no legacy key: a bare box is refused, not guessed at")
    func noLegacyWithoutFileKey() throws {
        let sealer = SecretSealer(keyring: keyring, derivationRoot: SecureRandom.bytes(32))
        let bare = try AESGCM.seal([1], using: .random(), authenticating: [])
        #expect(throws: (any Error).self) { try sealer.openTOTPSecret(bare, for: alice) }
    }

    @Test("derived keys of the file provider are what they were before envelopes (links and tokens keep working)")
    func derivedKeysUnchanged() throws {
        let master = SymmetricKey.random()
        let expected = HMAC.sha256(key: master.bytes, message: Array("bastion/derive/v1/approval-links".utf8))
        #expect(SecretSealer(masterKey: master).derivedKey(purpose: "approval-links") == expected)
    }
}
