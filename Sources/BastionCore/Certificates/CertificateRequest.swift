public import Foundation

/// What to certify: the fields of a user certificate the caller decides (PROTOCOL.certkeys).
/// The CA adds the type, nonce, its own key and the signature.
public struct CertificateRequest: Sendable {
    /// The user's key to certify (Ed25519, ECDSA or RSA).
    public var publicKey: SSHPublicKey
    public var serial: UInt64
    public var keyID: String
    public var principals: [String]
    /// Start of validity; sub-second parts are dropped (the format counts whole seconds).
    public var validAfter: Date
    /// End of validity (exclusive).
    public var validBefore: Date
    /// Name → value, e.g. `source-address` → `10.0.0.0/8`; "" encodes a flag option.
    public var criticalOptions: [String: String]
    /// Flag extensions such as `permit-pty`.
    public var extensions: [String]

    public init(
        publicKey: SSHPublicKey, serial: UInt64, keyID: String, principals: [String],
        validAfter: Date, validBefore: Date, criticalOptions: [String: String] = [:], extensions: [String] = []
    ) {
        self.publicKey = publicKey
        self.serial = serial
        self.keyID = keyID
        self.principals = principals
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.criticalOptions = criticalOptions
        self.extensions = extensions
    }
}
