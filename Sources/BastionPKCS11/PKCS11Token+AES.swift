import CPKCS11

/// AES-256 key-encryption keys and AES-256-GCM inside the token: the bastion's data keys are
/// sealed here, and the KEK itself can never be read out (sensitive, not extractable).
extension PKCS11Token {
    public static let gcmIVLength = 12
    public static let gcmTagLength = 16

    public func findAESKey(label: String) throws(PKCS11Error) -> PKCS11Key? {
        let template: [Attribute] = [
            .ulong(CKA_CLASS, CK_OBJECT_CLASS(CKO_SECRET_KEY)),
            .ulong(CKA_KEY_TYPE, CK_KEY_TYPE(CKK_AES)),
            .string(CKA_LABEL, label),
        ]
        return try sessions.withSession { session throws(PKCS11Error) in
            try findUniqueObject(template, label: label, in: session).map { PKCS11Key(label: label, handle: $0) }
        }
    }

    /// Generates a 256-bit AES token key. The caller checks first that the label is free
    /// (`findAESKey`); PKCS#11 itself allows duplicate labels.
    public func generateAESKey(label: String) throws(PKCS11Error) -> PKCS11Key {
        let template: [Attribute] = [
            .ulong(CKA_CLASS, CK_OBJECT_CLASS(CKO_SECRET_KEY)),
            .ulong(CKA_KEY_TYPE, CK_KEY_TYPE(CKK_AES)),
            .ulong(CKA_VALUE_LEN, 32),
            .string(CKA_LABEL, label),
            .bool(CKA_TOKEN, true),
            .bool(CKA_PRIVATE, true),
            .bool(CKA_SENSITIVE, true),
            .bool(CKA_EXTRACTABLE, false),
            .bool(CKA_ENCRYPT, true),
            .bool(CKA_DECRYPT, true),
            .bool(CKA_WRAP, true),
            .bool(CKA_UNWRAP, true),
        ]
        let f = functions.pointee
        return try sessions.withSession { session throws(PKCS11Error) in
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_AES_KEY_GEN), pParameter: nil, ulParameterLen: 0)
            var key = CK_OBJECT_HANDLE(CK_INVALID_HANDLE)
            try withTemplate(template) { attributes, count throws(PKCS11Error) in
                try check(f.C_GenerateKey(session, &mechanism, attributes, count, &key), "C_GenerateKey")
            }
            return PKCS11Key(label: label, handle: key)
        }
    }

    /// AES-256-GCM encryption in the token with a caller-chosen 12-byte IV (never reuse one with
    /// the same key) and a 128-bit tag. Returns ciphertext || tag.
    public func encryptGCM(_ plaintext: [UInt8], key: PKCS11Key, iv: [UInt8], aad: [UInt8]) throws(PKCS11Error) -> [UInt8] {
        try gcm(.encrypt, plaintext, key: key, iv: iv, aad: aad, outputCapacity: plaintext.count + Self.gcmTagLength)
    }

    /// AES-256-GCM decryption of ciphertext || tag; throws when the tag, AAD or IV does not match
    /// (CKR_ENCRYPTED_DATA_INVALID per the specification; softhsm2 2.6 says CKR_GENERAL_ERROR).
    public func decryptGCM(_ ciphertextAndTag: [UInt8], key: PKCS11Key, iv: [UInt8], aad: [UInt8]) throws(PKCS11Error) -> [UInt8] {
        guard ciphertextAndTag.count >= Self.gcmTagLength else {
            throw PKCS11Error(.invalidArgument, "GCM input shorter than its tag")
        }
        return try gcm(.decrypt, ciphertextAndTag, key: key, iv: iv, aad: aad, outputCapacity: ciphertextAndTag.count)
    }

    private enum Direction { case encrypt, decrypt }

    private func gcm(
        _ direction: Direction, _ input: [UInt8], key: PKCS11Key, iv: [UInt8], aad: [UInt8], outputCapacity: Int
    ) throws(PKCS11Error) -> [UInt8] {
        guard iv.count == Self.gcmIVLength else {
            throw PKCS11Error(.invalidArgument, "GCM IV must be \(Self.gcmIVLength) bytes, not \(iv.count)")
        }
        let f = functions.pointee
        // The module may read the IV and AAD again at C_Encrypt/C_Decrypt, so the parameter
        // block and the buffers it points to stay alive across both the Init and the final call.
        var iv = iv, aad = aad, input = input
        var output = [UInt8](repeating: 0, count: outputCapacity)
        var produced = CK_ULONG(outputCapacity)
        try sessions.withSession { session throws(PKCS11Error) in
            try iv.withUnsafeMutableBufferPointer { iv throws(PKCS11Error) in
                try aad.withUnsafeMutableBufferPointer { aad throws(PKCS11Error) in
                    var parameters = CK_GCM_PARAMS(
                        pIv: iv.baseAddress, ulIvLen: CK_ULONG(iv.count), ulIvBits: CK_ULONG(iv.count * 8),
                        pAAD: aad.baseAddress, ulAADLen: CK_ULONG(aad.count), ulTagBits: CK_ULONG(Self.gcmTagLength * 8)
                    )
                    try withUnsafeMutablePointer(to: &parameters) { parameters throws(PKCS11Error) in
                        var mechanism = CK_MECHANISM(
                            mechanism: CK_MECHANISM_TYPE(CKM_AES_GCM),
                            pParameter: UnsafeMutableRawPointer(parameters),
                            ulParameterLen: CK_ULONG(MemoryLayout<CK_GCM_PARAMS>.size)
                        )
                        try input.withUnsafeMutableBufferPointer { input throws(PKCS11Error) in
                            try output.withUnsafeMutableBufferPointer { output throws(PKCS11Error) in
                                switch direction {
                                case .encrypt:
                                    try check(f.C_EncryptInit(session, &mechanism, key.handle), "C_EncryptInit")
                                    try check(f.C_Encrypt(session, input.baseAddress, CK_ULONG(input.count), output.baseAddress, &produced), "C_Encrypt")
                                case .decrypt:
                                    try check(f.C_DecryptInit(session, &mechanism, key.handle), "C_DecryptInit")
                                    try check(f.C_Decrypt(session, input.baseAddress, CK_ULONG(input.count), output.baseAddress, &produced), "C_Decrypt")
                                }
                            }
                        }
                    }
                }
            }
        }
        return Array(output.prefix(Int(produced)))
    }
}
