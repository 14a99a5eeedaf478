import CPKCS11

/// Ed25519 key pairs and pure-EdDSA signing inside the token: the SSH certificate authority's
/// private key is generated in the HSM and only ever used there.
extension PKCS11Token {
    /// CKA_EC_PARAMS naming Ed25519: the DER of OID 1.3.101.112 (RFC 8410), which PKCS#11 3.0
    /// allows and softhsm2 2.6 accepts. (Some modules want the printableString "edwards25519".)
    static let ed25519Parameters: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]
    public static let ed25519SignatureLength = 64

    /// The key pair labelled `label`, or nil when neither half exists.
    public func findEd25519Key(label: String) throws(PKCS11Error) -> PKCS11SigningKey? {
        try sessions.withSession { session throws(PKCS11Error) in
            let privateKey = try findUniqueObject(Self.edwardsTemplate(CKO_PRIVATE_KEY, label), label: label, in: session)
            let publicKey = try findUniqueObject(Self.edwardsTemplate(CKO_PUBLIC_KEY, label), label: label, in: session)
            switch (privateKey, publicKey) {
            case (nil, nil):
                return nil
            case (let privateKey?, let publicKey?):
                return try signingKey(label: label, privateHandle: privateKey, publicHandle: publicKey, in: session)
            case (nil, _?):
                throw PKCS11Error(.unexpectedObject, "Ed25519 key \"\(label)\" has a public half but no private half")
            case (_?, nil):
                throw PKCS11Error(.unexpectedObject, "Ed25519 key \"\(label)\" has a private half but no public half")
            }
        }
    }

    /// Generates an Ed25519 token key pair; both halves carry `label`. The private half is
    /// sensitive and not extractable, so it cannot be read or wrapped out of the token.
    public func generateEd25519Key(label: String) throws(PKCS11Error) -> PKCS11SigningKey {
        let publicTemplate: [Attribute] = [
            .ulong(CKA_CLASS, CK_OBJECT_CLASS(CKO_PUBLIC_KEY)),
            .ulong(CKA_KEY_TYPE, CK_KEY_TYPE(CKK_EC_EDWARDS)),
            .bytes(CKA_EC_PARAMS, Self.ed25519Parameters),
            .string(CKA_LABEL, label),
            .bool(CKA_TOKEN, true),
            .bool(CKA_PRIVATE, false),
            .bool(CKA_VERIFY, true),
        ]
        let privateTemplate: [Attribute] = [
            .ulong(CKA_CLASS, CK_OBJECT_CLASS(CKO_PRIVATE_KEY)),
            .ulong(CKA_KEY_TYPE, CK_KEY_TYPE(CKK_EC_EDWARDS)),
            .string(CKA_LABEL, label),
            .bool(CKA_TOKEN, true),
            .bool(CKA_PRIVATE, true),
            .bool(CKA_SENSITIVE, true),
            .bool(CKA_EXTRACTABLE, false),
            .bool(CKA_SIGN, true),
        ]
        let f = functions.pointee
        return try sessions.withSession { session throws(PKCS11Error) in
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_EC_EDWARDS_KEY_PAIR_GEN), pParameter: nil, ulParameterLen: 0)
            var publicKey = CK_OBJECT_HANDLE(CK_INVALID_HANDLE)
            var privateKey = CK_OBJECT_HANDLE(CK_INVALID_HANDLE)
            try withTemplate(publicTemplate) { publicAttributes, publicCount throws(PKCS11Error) in
                try withTemplate(privateTemplate) { privateAttributes, privateCount throws(PKCS11Error) in
                    try check(
                        f.C_GenerateKeyPair(session, &mechanism, publicAttributes, publicCount, privateAttributes, privateCount, &publicKey, &privateKey),
                        "C_GenerateKeyPair"
                    )
                }
            }
            return try signingKey(label: label, privateHandle: privateKey, publicHandle: publicKey, in: session)
        }
    }

    /// Signs `message` with pure Ed25519 (CKM_EDDSA without parameters): a 64-byte signature.
    public func sign(_ message: [UInt8], with key: PKCS11SigningKey) throws(PKCS11Error) -> [UInt8] {
        let f = functions.pointee
        var message = message
        var signature = [UInt8](repeating: 0, count: Self.ed25519SignatureLength)
        var length = CK_ULONG(signature.count)
        try sessions.withSession { session throws(PKCS11Error) in
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_EDDSA), pParameter: nil, ulParameterLen: 0)
            try check(f.C_SignInit(session, &mechanism, key.privateHandle), "C_SignInit")
            try message.withUnsafeMutableBufferPointer { message throws(PKCS11Error) in
                try signature.withUnsafeMutableBufferPointer { signature throws(PKCS11Error) in
                    try check(f.C_Sign(session, message.baseAddress, CK_ULONG(message.count), signature.baseAddress, &length), "C_Sign")
                }
            }
        }
        guard length == CK_ULONG(Self.ed25519SignatureLength) else {
            throw PKCS11Error(.unexpectedObject, "C_Sign returned \(length) bytes, not an Ed25519 signature")
        }
        return signature
    }

    private static func edwardsTemplate(_ objectClass: UInt, _ label: String) -> [Attribute] {
        [
            .ulong(CKA_CLASS, CK_OBJECT_CLASS(objectClass)),
            .ulong(CKA_KEY_TYPE, CK_KEY_TYPE(CKK_EC_EDWARDS)),
            .string(CKA_LABEL, label),
        ]
    }

    private func signingKey(
        label: String, privateHandle: CK_OBJECT_HANDLE, publicHandle: CK_OBJECT_HANDLE, in session: CK_SESSION_HANDLE
    ) throws(PKCS11Error) -> PKCS11SigningKey {
        let point = try attributeValue(CKA_EC_POINT, of: publicHandle, in: session)
        guard let publicKey = ed25519PublicKey(fromECPoint: point) else {
            throw PKCS11Error(.unexpectedObject, "key \"\(label)\" has a \(point.count)-byte CKA_EC_POINT, not an Ed25519 point")
        }
        return PKCS11SigningKey(label: label, publicKey: publicKey, privateHandle: privateHandle, publicHandle: publicHandle)
    }
}
