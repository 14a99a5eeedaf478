public import BastionCrypto
import Foundation

/// A plain (non-certificate) SSH public key: the wire blob of RFC 4253 §6.6 plus what
/// Bastion reads out of it.
///
/// Equality and hashing use the blob alone: the comment is a label the user chose, not
/// part of the key, so `alice@laptop` and `alice@desktop` with the same blob are one key.
public struct SSHPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The algorithms Bastion accepts and why they differ for policy (RSA has a size).
    public enum Kind: Sendable, Hashable {
        /// `ssh-ed25519` (RFC 8709).
        case ed25519
        /// `ecdsa-sha2-<curve>` (RFC 5656 §3.1); `curve` is `nistp256`, `nistp384` or `nistp521`.
        case ecdsa(curve: String)
        /// `ssh-rsa` (RFC 4253 §6.6); `bits` is the modulus size, for minimum-size policy.
        case rsa(bits: Int)
    }

    /// The key type name, e.g. `ssh-ed25519`.
    public let algorithm: String
    /// The complete wire blob, as in an authorized_keys line or a publickey request.
    public let blob: [UInt8]
    /// The free-text comment of an authorized_keys line, if any.
    public var comment: String?
    /// The parsed algorithm and size.
    public let kind: Kind

    /// Plain key types Bastion understands. Security-key (`sk-`) and DSA keys are left out
    /// on purpose: DSA is disabled by OpenSSH, and FIDO keys need attestation policy first.
    static let supportedAlgorithms: Set<String> = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
    ]

    /// Parses a wire blob strictly: known type, every field well formed, nothing after.
    public init(blob: [UInt8], comment: String? = nil) throws(FormatError) {
        var reader = SSHWireReader(blob)
        let algorithm = try reader.readUTF8String()
        if algorithm.hasSuffix(SSHCertificate.typeSuffix) {
            throw FormatError(.wrongKind, "\(algorithm) is a certificate, not a plain key")
        }
        guard Self.supportedAlgorithms.contains(algorithm) else {
            throw FormatError(.unsupportedType, "unsupported key type \(algorithm)")
        }
        let kind = try Self.readKeyFields(algorithm: algorithm, from: &reader)
        try reader.expectEnd()
        self.algorithm = algorithm
        self.blob = blob
        self.comment = comment
        self.kind = kind
    }

    /// Parses `TYPE BASE64 [comment]`, the authorized_keys / `.pub` form (sshd(8)
    /// "AUTHORIZED_KEYS FILE FORMAT", without the options prefix, which Bastion never honours).
    public init(authorizedKeysLine line: String) throws(FormatError) {
        let (type, blob, comment) = try Self.splitLine(line)
        if type.hasSuffix(SSHCertificate.typeSuffix) {
            throw FormatError(.wrongKind, "\(type) is a certificate, not a plain key")
        }
        guard Self.supportedAlgorithms.contains(type) else {
            throw FormatError(.unsupportedType, "unsupported key type \(type)")
        }
        try self.init(blob: blob, comment: comment)
        guard algorithm == type else {
            throw FormatError(.typeMismatch, "line says \(type), blob says \(algorithm)")
        }
    }

    /// `SHA256:` + unpadded Base64 of SHA-256(blob), exactly as `ssh-keygen -l` prints it.
    public var fingerprint: String {
        Self.fingerprint(of: blob)
    }

    /// `TYPE BASE64`, without the comment, ready for authorized_keys.
    public var authorizedKeysLine: String {
        algorithm + " " + Base64Text.encode(blob)
    }

    /// The short family name `ssh-keygen -l` shows: `ED25519`, `ECDSA` or `RSA`.
    public var displayType: String {
        switch kind {
        case .ed25519: "ED25519"
        case .ecdsa: "ECDSA"
        case .rsa: "RSA"
        }
    }

    /// The Ed25519 key inside, for verifying signatures ourselves (certificate CAs);
    /// `nil` for other algorithms.
    public var ed25519PublicKey: Ed25519PublicKey? {
        guard case .ed25519 = kind else { return nil }
        var reader = SSHWireReader(blob)
        guard (try? reader.readString()) != nil, let raw = try? reader.readString() else { return nil }
        return try? Ed25519PublicKey(rawRepresentation: raw)
    }

    public var description: String { "\(displayType) \(fingerprint)" }

    public static func == (lhs: SSHPublicKey, rhs: SSHPublicKey) -> Bool { lhs.blob == rhs.blob }
    public func hash(into hasher: inout Hasher) { hasher.combine(blob) }

    // MARK: - Shared with certificates

    /// `SHA256:` fingerprint of any blob (certificates are fingerprinted by their key).
    static func fingerprint(of blob: [UInt8]) -> String {
        let encoded = Base64Text.encode(SHA256.hash(blob))
        return "SHA256:" + encoded.replacingOccurrences(of: "=", with: "")
    }

    /// Reads the key fields that follow the type name in a plain blob (and follow the
    /// nonce in a certificate, PROTOCOL.certkeys), checking sizes as OpenSSH does.
    static func readKeyFields(algorithm: String, from reader: inout SSHWireReader) throws(FormatError) -> Kind {
        switch algorithm {
        case "ssh-ed25519":
            let raw = try reader.readString()
            guard raw.count == 32 else {
                throw FormatError(.invalidField, "ed25519 key of \(raw.count) bytes")
            }
            return .ed25519
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            let curve = String(algorithm.dropFirst("ecdsa-sha2-".count))
            guard try reader.readUTF8String() == curve else {
                throw FormatError(.typeMismatch, "ECDSA curve identifier differs from \(algorithm)")
            }
            // RFC 5656 §3.1: Q as an uncompressed SEC1 point (0x04 || X || Y); OpenSSH
            // emits and accepts only that form. Whether the point lies on the curve is
            // not checked here: Bastion never verifies ECDSA signatures itself, and the SSH
            // engine (libssh over OpenSSL) validates the point before it checks one.
            let fieldBytes = ["nistp256": 32, "nistp384": 48, "nistp521": 66][curve] ?? 0
            let point = try reader.readString()
            guard point.count == 1 + 2 * fieldBytes, point.first == 0x04 else {
                throw FormatError(.invalidField, "ECDSA point is not an uncompressed \(curve) point")
            }
            return .ecdsa(curve: curve)
        case "ssh-rsa":
            let exponent = try reader.readMPInt()
            let modulus = try reader.readMPInt()
            guard let top = modulus.first, let low = exponent.last, low & 1 == 1 else {
                throw FormatError(.invalidField, "RSA key with an empty modulus or even exponent")
            }
            let bits = (modulus.count - 1) * 8 + (8 - top.leadingZeroBitCount)
            return .rsa(bits: bits)
        default:
            throw FormatError(.unsupportedType, "unsupported key type \(algorithm)")
        }
    }

    /// Splits `TYPE BASE64 [comment]` on spaces or tabs and decodes the blob.
    static func splitLine(_ line: String) throws(FormatError) -> (type: String, blob: [UInt8], comment: String?) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count >= 2 else {
            throw FormatError(.invalidField, "expected TYPE BASE64 [comment]")
        }
        let blob = try Base64Text.decode(parts[1])
        var comment: String?
        if parts.count == 3 {
            let text = parts[2].trimmingCharacters(in: .whitespaces)
            comment = text.isEmpty ? nil : text
        }
        return (String(parts[0]), blob, comment)
    }
}
