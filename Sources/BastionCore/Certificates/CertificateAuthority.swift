public import BastionCrypto
import Foundation

/// Signs user certificates with an Ed25519 CA key (PROTOCOL.certkeys).
///
/// Ed25519 only: one fast, deterministic signature algorithm with no parameter choices,
/// which every OpenSSH since 6.5 verifies.
public struct CertificateAuthority: Sendable {
    /// The CA's keys (in memory, or in an HSM), and the clock that picks which one signs.
    private let keys: AuthorityKeys
    private let clock: any WallClock

    /// The CA key signing now, as it goes into `TrustedUserCAKeys` or a verifier.
    public var publicKey: SSHPublicKey { SSHPublicKey(ed25519: keys.signer(at: clock.now()).publicKey) }

    public init(keys: AuthorityKeys, clock: any WallClock) {
        self.keys = keys
        self.clock = clock
    }

    public init(signer: any Ed25519Signer) {
        self.init(keys: AuthorityKeys(current: signer), clock: SystemWallClock())
    }

    public init(privateKey: Ed25519PrivateKey) {
        self.init(signer: privateKey)
    }

    /// Issues a user certificate for `request`.
    ///
    /// Throws `FormatError(.invalidRequest)` for a request that makes no sense to sign
    /// (empty window, empty names), or `CryptoError` if signing fails. The result is parsed
    /// back before it is returned, so a certificate this returns is one Bastion can read.
    public func issue(_ request: CertificateRequest) throws -> SSHCertificate {
        let validAfter = Self.seconds(request.validAfter)
        let validBefore = Self.seconds(request.validBefore)
        guard validAfter < validBefore else {
            throw FormatError(.invalidRequest, "validBefore must be after validAfter")
        }
        guard request.principals.allSatisfy({ !$0.isEmpty }) else {
            throw FormatError(.invalidRequest, "empty principal")
        }
        guard request.criticalOptions.keys.allSatisfy({ !$0.isEmpty }),
              request.extensions.allSatisfy({ !$0.isEmpty }),
              Set(request.extensions).count == request.extensions.count
        else {
            throw FormatError(.invalidRequest, "empty or repeated option name")
        }

        let signer = keys.signer(at: clock.now())
        let authorityKey = SSHPublicKey(ed25519: signer.publicKey)
        var keyFields = SSHWireReader(request.publicKey.blob)
        _ = try keyFields.readString()

        var writer = SSHWireWriter()
        writer.writeString(SSHCertificate.certificateType(forKeyAlgorithm: request.publicKey.algorithm))
        writer.writeString(SecureRandom.bytes(32))
        writer.writeBytes(try keyFields.readBytes(keyFields.remainingCount))
        writer.writeUInt64(request.serial)
        writer.writeUInt32(SSHCertificate.Kind.user.rawValue)
        writer.writeString(request.keyID)
        var principals = SSHWireWriter()
        for principal in request.principals { principals.writeString(principal) }
        writer.writeString(principals.bytes)
        writer.writeUInt64(validAfter)
        writer.writeUInt64(validBefore)
        writer.writeString(SSHCertificate.encodeOptions(request.criticalOptions))
        writer.writeString(SSHCertificate.encodeOptions(Dictionary(uniqueKeysWithValues: request.extensions.map { ($0, "") })))
        writer.writeString([UInt8]())
        writer.writeString(authorityKey.blob)

        let signature = try signer.signature(for: writer.bytes)
        var signatureBlob = SSHWireWriter()
        signatureBlob.writeString("ssh-ed25519")
        signatureBlob.writeString(signature)
        writer.writeString(signatureBlob.bytes)
        return try SSHCertificate(blob: writer.bytes)
    }

    /// Whole seconds since the epoch, clamped to the field's range.
    static func seconds(_ date: Date) -> UInt64 {
        let value = date.timeIntervalSince1970.rounded(.down)
        if value <= 0 { return 0 }
        if value >= 18_446_744_073_709_551_615.0 { return UInt64.max }
        return UInt64(value)
    }
}
