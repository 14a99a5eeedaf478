internal import COpenSSL

/// AES-256-GCM (NIST SP 800-38D) with a caller-supplied 96-bit nonce, for formats that
/// derive nonces deterministically (a chunk counter) instead of drawing them at random.
///
/// Unlike `AESGCM`, which seals a few small secrets with random nonces, this type seals
/// a stream of chunks on a recording's hot path: the key schedule is expanded once per
/// instance, each call only installs the nonce, and output goes straight into caller
/// memory. The caller owns nonce uniqueness: a nonce repeated under one key reveals the
/// XOR of two plaintexts and the GHASH key (SP 800-38D §8), so use a fresh key per stream.
///
/// Not `Sendable`: the OpenSSL contexts are mutable per call. Use one instance per writer or
/// reader thread; a lock would only serialise what is cheaper to duplicate.
public final class AESGCMCipher {
    /// Nonce length: 96 bits, the length GCM is specified and optimised for (SP 800-38D §5.2.1.1).
    public static let nonceByteCount = 12
    /// Full 128-bit tag; shorter tags weaken forgery resistance (SP 800-38D Appendix C).
    public static let tagByteCount = 16

    /// Separate contexts because an OpenSSL context is fixed to one direction at key set-up.
    private let sealContext: OpaquePointer
    private let openContext: OpaquePointer

    /// Expands `key` into both contexts; no nonce is set until a call supplies one.
    public init(key: SymmetricKey) throws(CryptoError) {
        guard let sealContext = EVP_CIPHER_CTX_new() else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_CIPHER_CTX_new")
        }
        guard let openContext = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(sealContext)
            throw CryptoError.openSSL(.encryptionFailed, "EVP_CIPHER_CTX_new")
        }
        self.sealContext = sealContext
        self.openContext = openContext
        let ivLength = Int32(Self.nonceByteCount)
        guard EVP_EncryptInit_ex(sealContext, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(sealContext, EVP_CTRL_GCM_SET_IVLEN, ivLength, nil) == 1,
              EVP_EncryptInit_ex(sealContext, nil, nil, key.bytes, nil) == 1,
              EVP_DecryptInit_ex(openContext, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(openContext, EVP_CTRL_GCM_SET_IVLEN, ivLength, nil) == 1,
              EVP_DecryptInit_ex(openContext, nil, nil, key.bytes, nil) == 1
        else {
            // deinit runs for a fully initialised class even when init throws afterwards.
            throw CryptoError.openSSL(.encryptionFailed, "EVP_CipherInit_ex(key)")
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(sealContext)
        EVP_CIPHER_CTX_free(openContext)
    }

    /// Encrypts `plaintext` and authenticates it with `aad`, writing `ciphertext || tag`
    /// (`plaintext.count + 16` bytes) to the start of `output`. Returns the bytes written.
    public func seal(
        _ plaintext: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        authenticating aad: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) -> Int {
        let total = plaintext.count + Self.tagByteCount
        guard nonce.count == Self.nonceByteCount, plaintext.count <= Int(Int32.max) - Self.tagByteCount,
              aad.count <= Int(Int32.max), output.count >= total,
              let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else {
            throw CryptoError(.encryptionFailed, "bad nonce, input or output size")
        }
        let context = sealContext
        var length: Int32 = 0
        guard EVP_EncryptInit_ex(context, nil, nil, nil, bytes(nonce)) == 1 else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptInit_ex(nonce)")
        }
        if aad.count > 0 {
            guard EVP_EncryptUpdate(context, nil, &length, bytes(aad), Int32(aad.count)) == 1 else {
                throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptUpdate(aad)")
            }
        }
        // GCM is a stream mode: the ciphertext is exactly as long as the plaintext.
        var produced = 0
        if plaintext.count > 0 {
            guard EVP_EncryptUpdate(context, out, &length, bytes(plaintext), Int32(plaintext.count)) == 1 else {
                throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptUpdate")
            }
            produced = Int(length)
        }
        guard EVP_EncryptFinal_ex(context, out + produced, &length) == 1 else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptFinal_ex")
        }
        produced += Int(length)
        guard produced == plaintext.count,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagByteCount), out + produced) == 1
        else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_CTRL_GCM_GET_TAG")
        }
        return total
    }

    /// Verifies `sealed` (`ciphertext || tag`) against `nonce` and `aad` and writes the
    /// plaintext (`sealed.count - 16` bytes) to the start of `output`. Returns the bytes written.
    ///
    /// Every failure (short input, tampering, wrong key, nonce or AAD) is the same
    /// `.authenticationFailed`. OpenSSL decrypts before it checks the tag, so on failure
    /// `output` holds unauthenticated bytes: callers must treat it as garbage and never
    /// expose it; this type cannot take it back.
    public func open(
        _ sealed: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        authenticating aad: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) -> Int {
        guard sealed.count >= Self.tagByteCount, sealed.count <= Int(Int32.max),
              nonce.count == Self.nonceByteCount, aad.count <= Int(Int32.max),
              output.count >= sealed.count - Self.tagByteCount,
              let input = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else {
            throw CryptoError(.authenticationFailed, "bad nonce, input or output size")
        }
        let ciphertextCount = sealed.count - Self.tagByteCount
        // An empty plaintext may come with an empty (base-less) output; GCM's final step
        // writes nothing, but OpenSSL still wants a pointer.
        var sink: UInt8 = 0
        let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let context = openContext
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(context, nil, nil, nil, bytes(nonce)) == 1 else {
            throw CryptoError.openSSL(.authenticationFailed, "EVP_DecryptInit_ex(nonce)")
        }
        if aad.count > 0 {
            guard EVP_DecryptUpdate(context, nil, &length, bytes(aad), Int32(aad.count)) == 1 else {
                throw CryptoError.openSSL(.authenticationFailed, "EVP_DecryptUpdate(aad)")
            }
        }
        var produced = 0
        if ciphertextCount > 0 {
            guard EVP_DecryptUpdate(context, out, &length, input, Int32(ciphertextCount)) == 1 else {
                throw CryptoError.openSSL(.authenticationFailed, "EVP_DecryptUpdate")
            }
            produced = Int(length)
        }
        // SET_TAG takes a non-const pointer but only copies from it.
        let tag = UnsafeMutableRawPointer(mutating: input + ciphertextCount)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagByteCount), tag) == 1 else {
            throw CryptoError.openSSL(.authenticationFailed, "EVP_CTRL_GCM_SET_TAG")
        }
        // EVP_DecryptFinal_ex is where the tag is checked (in constant time).
        let finalOK = withUnsafeMutablePointer(to: &sink) { sinkPointer in
            EVP_DecryptFinal_ex(context, out.map { $0 + produced } ?? sinkPointer, &length) == 1
        }
        guard finalOK else {
            throw CryptoError.openSSL(.authenticationFailed, "tag mismatch")
        }
        produced += Int(length)
        guard produced == ciphertextCount else {
            throw CryptoError(.authenticationFailed, "short decryption")
        }
        return produced
    }

    /// `ciphertext || tag` as a new array; convenient where a copy does not matter.
    public func seal(_ plaintext: [UInt8], nonce: [UInt8], authenticating aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        var failure: CryptoError?
        let result = [UInt8](unsafeUninitializedCapacity: plaintext.count + Self.tagByteCount) { buffer, initialized in
            let outcome = plaintext.withUnsafeBytes { p in
                nonce.withUnsafeBytes { n in
                    aad.withUnsafeBytes { a in
                        Result { () throws(CryptoError) in
                            try seal(p, nonce: n, authenticating: a, into: UnsafeMutableRawBufferPointer(buffer))
                        }
                    }
                }
            }
            switch outcome {
            case .success(let count): initialized = count
            case .failure(let error): failure = error; initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// The plaintext of `ciphertext || tag` as a new array, only if the tag verifies.
    public func open(_ sealed: [UInt8], nonce: [UInt8], authenticating aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= Self.tagByteCount else {
            throw CryptoError(.authenticationFailed, "sealed box shorter than the tag")
        }
        var failure: CryptoError?
        let result = [UInt8](unsafeUninitializedCapacity: sealed.count - Self.tagByteCount) { buffer, initialized in
            let outcome = sealed.withUnsafeBytes { s in
                nonce.withUnsafeBytes { n in
                    aad.withUnsafeBytes { a in
                        Result { () throws(CryptoError) in
                            try open(s, nonce: n, authenticating: a, into: UnsafeMutableRawBufferPointer(buffer))
                        }
                    }
                }
            }
            switch outcome {
            case .success(let count): initialized = count
            case .failure(let error): failure = error; initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// A typed pointer for OpenSSL, or nil for an empty buffer (never dereferenced then).
    private func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }
}
