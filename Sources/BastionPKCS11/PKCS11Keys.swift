import CPKCS11

/// An AES-256 key-encryption key held by the token. Only its handle leaves the token.
///
/// Handles are valid for the `PKCS11Token` (and module instance) that produced them: token object
/// handles are shared by all sessions, so any pooled session can use it.
public struct PKCS11Key: Sendable, Hashable {
    public let label: String
    let handle: CK_OBJECT_HANDLE
}

/// An Ed25519 key pair held by the token: the private half signs inside it, the public half is
/// copied out so callers can publish it (CA public key) without another round trip.
public struct PKCS11SigningKey: Sendable, Hashable {
    public let label: String
    /// The 32-byte Ed25519 public key (RFC 8032 encoding).
    public let publicKey: [UInt8]
    let privateHandle: CK_OBJECT_HANDLE
    let publicHandle: CK_OBJECT_HANDLE
}

/// The Ed25519 point from CKA_EC_POINT. PKCS#11 3.0 says it is a DER OCTET STRING (04 20 || key);
/// some modules return the 32 raw bytes. Anything else is not an Ed25519 key.
func ed25519PublicKey(fromECPoint point: [UInt8]) -> [UInt8]? {
    if point.count == 34, point[0] == 0x04, point[1] == 0x20 { return Array(point[2...]) }
    if point.count == 32 { return point }
    return nil
}
