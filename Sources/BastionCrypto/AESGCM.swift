internal import COpenSSL

/// AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce, packed as
/// `nonce (12) || ciphertext || tag (16)`.
///
/// Random nonces are safe here because a key seals few messages (TOTP seeds): SP 800-38D
/// §8.3 allows 2^32 random-nonce invocations per key.
public enum AESGCM {
    /// Nonce length: 96 bits, the length GCM is specified and optimised for (SP 800-38D §5.2.1.1).
    public static let nonceByteCount = 12
    /// Full 128-bit tag; shorter tags weaken forgery resistance (SP 800-38D Appendix C).
    public static let tagByteCount = 16

    /// Encrypts and authenticates `plaintext`, also authenticating `aad` (for example the
    /// row's user ID, so a sealed seed cannot be moved to another user's row).
    public static func seal(_ plaintext: [UInt8], using key: SymmetricKey, authenticating aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        let nonce = SecureRandom.bytes(nonceByteCount)
        guard let context = EVP_CIPHER_CTX_new() else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceByteCount), nil) == 1,
              EVP_EncryptInit_ex(context, nil, nil, key.bytes, nonce) == 1
        else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptInit_ex")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else {
                throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptUpdate(aad)")
            }
        }
        // GCM is a stream mode: the ciphertext is exactly as long as the plaintext.
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var produced = 0
        if !plaintext.isEmpty {
            guard EVP_EncryptUpdate(context, &ciphertext, &length, plaintext, Int32(plaintext.count)) == 1 else {
                throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptUpdate")
            }
            produced = Int(length)
        }
        let finalOK = ciphertext.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return EVP_EncryptFinal_ex(context, base + produced, &length) == 1
        }
        guard finalOK else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_EncryptFinal_ex")
        }
        produced += Int(length)
        var tag = [UInt8](repeating: 0, count: tagByteCount)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), &tag) == 1 else {
            throw CryptoError.openSSL(.encryptionFailed, "EVP_CTRL_GCM_GET_TAG")
        }
        return nonce + ciphertext.prefix(produced) + tag
    }

    /// Verifies and decrypts a box made by `seal`. Every failure (short input, tampering,
    /// wrong key, wrong AAD) is the same `.authenticationFailed`, and no plaintext is ever
    /// returned unless the tag verified.
    public static func open(_ sealed: [UInt8], using key: SymmetricKey, authenticating aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= nonceByteCount + tagByteCount else {
            throw CryptoError(.authenticationFailed, "sealed box shorter than nonce and tag")
        }
        let nonce = Array(sealed.prefix(nonceByteCount))
        let ciphertext = Array(sealed[nonceByteCount ..< sealed.count - tagByteCount])
        var tag = Array(sealed.suffix(tagByteCount))
        guard let context = EVP_CIPHER_CTX_new() else {
            throw CryptoError.openSSL(.authenticationFailed, "EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceByteCount), nil) == 1,
              EVP_DecryptInit_ex(context, nil, nil, key.bytes, nonce) == 1
        else {
            throw CryptoError.openSSL(.authenticationFailed, "EVP_DecryptInit_ex")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else {
                throw CryptoError.openSSL(.authenticationFailed, "EVP_DecryptUpdate(aad)")
            }
        }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var produced = 0
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(context, &plaintext, &length, ciphertext, Int32(ciphertext.count)) == 1 else {
                throw CryptoError.openSSL(.authenticationFailed, "EVP_DecryptUpdate")
            }
            produced = Int(length)
        }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), &tag) == 1 else {
            throw CryptoError.openSSL(.authenticationFailed, "EVP_CTRL_GCM_SET_TAG")
        }
        // EVP_DecryptFinal_ex is where the tag is checked.
        let finalOK = plaintext.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return EVP_DecryptFinal_ex(context, base + produced, &length) == 1
        }
        guard finalOK else {
            throw CryptoError.openSSL(.authenticationFailed, "tag mismatch")
        }
        produced += Int(length)
        return Array(plaintext.prefix(produced))
    }
}
