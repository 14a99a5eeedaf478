
/// An OpenSSH certificate (PROTOCOL.certkeys), parsed strictly from its blob.
///
/// Bastion verifies certificates itself instead of trusting libssh to, so every field is
/// exposed, the exact signed bytes are kept, and parsing refuses anything ambiguous:
/// unknown types, trailing bytes, unordered or repeated options.
/// Equality and hashing use the blob, which determines every other field.
public struct SSHCertificate: Sendable, Hashable, CustomStringConvertible {
    /// The certificate's `type` field (PROTOCOL.certkeys: SSH2_CERT_TYPE_USER = 1,
    /// SSH2_CERT_TYPE_HOST = 2).
    public enum Kind: UInt32, Sendable, Hashable {
        case user = 1
        case host = 2
    }

    static let typeSuffix = "-cert-v01@openssh.com"

    /// e.g. `ssh-ed25519-cert-v01@openssh.com`.
    public let certificateType: String
    /// CA-chosen random bytes that make the signed data unpredictable (hash-collision defence).
    public let nonce: [UInt8]
    /// The certified key, rebuilt as a plain key blob from the certificate's key fields.
    public let publicKey: SSHPublicKey
    public let serial: UInt64
    public let kind: Kind
    /// Free text the CA chose; OpenSSH logs it, Bastion puts user and serial there.
    public let keyID: String
    /// Names the certificate is valid for; empty means "any" to OpenSSH, which Bastion refuses.
    public let principals: [String]
    /// Seconds since the epoch; valid when `validAfter <= now < validBefore`.
    public let validAfter: UInt64
    /// Seconds since the epoch; `UInt64.max` means forever.
    public let validBefore: UInt64
    /// Name → value; flags (options without data) have the value "".
    public let criticalOptions: [String: String]
    /// Name → value; flags such as `permit-pty` have the value "".
    public let extensions: [String: String]
    /// The CA's public key.
    public let signatureKey: SSHPublicKey
    /// The algorithm named inside the signature, e.g. `ssh-ed25519`.
    public let signatureAlgorithm: String
    /// The raw signature bytes (64 for Ed25519).
    public let signature: [UInt8]
    /// The complete certificate blob.
    public let blob: [UInt8]
    /// Everything the CA signed: the blob from its start through the signature key.
    public let signedBytes: [UInt8]

    /// Certificate type → plain key type; the only certificate types Bastion accepts.
    static let keyAlgorithms: [String: String] = [
        "ssh-ed25519-cert-v01@openssh.com": "ssh-ed25519",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com": "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com": "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com": "ecdsa-sha2-nistp521",
        "ssh-rsa-cert-v01@openssh.com": "ssh-rsa",
    ]

    /// The certificate type for a plain key type (`ssh-rsa` → `ssh-rsa-cert-v01@openssh.com`).
    static func certificateType(forKeyAlgorithm algorithm: String) -> String {
        algorithm + typeSuffix
    }

    /// Parses a certificate blob in the field order of PROTOCOL.certkeys.
    public init(blob: [UInt8]) throws(FormatError) {
        var reader = SSHWireReader(blob)
        let type = try reader.readUTF8String()
        guard let keyAlgorithm = Self.keyAlgorithms[type] else {
            if SSHPublicKey.supportedAlgorithms.contains(type) {
                throw FormatError(.wrongKind, "\(type) is a plain key, not a certificate")
            }
            throw FormatError(.unsupportedType, "unsupported certificate type \(type)")
        }
        let nonce = try reader.readString()

        // The key fields sit between the nonce and the serial and are exactly the fields
        // of the plain key blob after its type name.
        let keyStart = reader.offset
        _ = try SSHPublicKey.readKeyFields(algorithm: keyAlgorithm, from: &reader)
        var plain = SSHWireWriter()
        plain.writeString(keyAlgorithm)
        plain.writeBytes(Array(blob[keyStart ..< reader.offset]))
        let publicKey = try SSHPublicKey(blob: plain.bytes)

        let serial = try reader.readUInt64()
        let rawKind = try reader.readUInt32()
        guard let kind = Kind(rawValue: rawKind) else {
            throw FormatError(.invalidField, "certificate type \(rawKind) is neither user nor host")
        }
        let keyID = try reader.readUTF8String()
        let principals = try Self.readPrincipals(try reader.readString())
        let validAfter = try reader.readUInt64()
        let validBefore = try reader.readUInt64()
        let criticalOptions = try Self.readOptions(try reader.readString(), field: "critical options")
        let extensions = try Self.readOptions(try reader.readString(), field: "extensions")
        _ = try reader.readString()  // reserved: "currently unused and is ignored"
        let signatureKey = try SSHPublicKey(blob: try reader.readString())
        let signedEnd = reader.offset
        let signatureBlob = try reader.readString()
        try reader.expectEnd()

        var signatureReader = SSHWireReader(signatureBlob)
        let signatureAlgorithm = try signatureReader.readUTF8String()
        let signature = try signatureReader.readString()
        try signatureReader.expectEnd()

        self.certificateType = type
        self.nonce = nonce
        self.publicKey = publicKey
        self.serial = serial
        self.kind = kind
        self.keyID = keyID
        self.principals = principals
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.criticalOptions = criticalOptions
        self.extensions = extensions
        self.signatureKey = signatureKey
        self.signatureAlgorithm = signatureAlgorithm
        self.signature = signature
        self.blob = blob
        self.signedBytes = Array(blob[0 ..< signedEnd])
    }

    /// Parses `TYPE BASE64 [comment]` as in a `-cert.pub` file; the comment is dropped.
    public init(authorizedKeysLine line: String) throws(FormatError) {
        let (type, blob, _) = try SSHPublicKey.splitLine(line)
        guard Self.keyAlgorithms[type] != nil else {
            if SSHPublicKey.supportedAlgorithms.contains(type) {
                throw FormatError(.wrongKind, "\(type) is a plain key, not a certificate")
            }
            throw FormatError(.unsupportedType, "unsupported certificate type \(type)")
        }
        try self.init(blob: blob)
        guard certificateType == type else {
            throw FormatError(.typeMismatch, "line says \(type), blob says \(certificateType)")
        }
    }

    /// `TYPE BASE64`, the content of a `-cert.pub` file (plus a newline when written).
    public var authorizedKeysLine: String {
        certificateType + " " + Base64Text.encode(blob)
    }

    public var description: String {
        "\(certificateType) serial \(serial) id \"\(keyID)\" for \(principals) key \(publicKey.fingerprint) CA \(signatureKey.fingerprint)"
    }

    public static func == (lhs: SSHCertificate, rhs: SSHCertificate) -> Bool { lhs.blob == rhs.blob }
    public func hash(into hasher: inout Hasher) { hasher.combine(blob) }

    // MARK: - Field codecs

    /// "valid principals" is a string holding a sequence of strings.
    private static func readPrincipals(_ bytes: [UInt8]) throws(FormatError) -> [String] {
        var reader = SSHWireReader(bytes)
        var principals: [String] = []
        while !reader.isAtEnd {
            principals.append(try reader.readUTF8String())
        }
        return principals
    }

    /// Critical options and extensions: (string name, string data) pairs, where data is
    /// empty for a flag or holds one string for a value. PROTOCOL.certkeys requires names
    /// in lexical order, each at most once; a repeated `source-address` must never leave
    /// room to honour one copy and audit another, so order is enforced strictly.
    private static func readOptions(_ bytes: [UInt8], field: String) throws(FormatError) -> [String: String] {
        var reader = SSHWireReader(bytes)
        var options: [String: String] = [:]
        var previous: [UInt8]?
        while !reader.isAtEnd {
            let name = try reader.readUTF8String()
            let data = try reader.readString()
            let nameBytes = Array(name.utf8)
            if let previous, !previous.lexicographicallyPrecedes(nameBytes) {
                throw FormatError(.invalidField, "\(field) not in strict lexical order at \(name)")
            }
            previous = nameBytes
            if data.isEmpty {
                options[name] = ""
            } else {
                var inner = SSHWireReader(data)
                options[name] = try inner.readUTF8String()
                try inner.expectEnd()
            }
        }
        return options
    }

    /// Encodes options for signing: sorted by name bytes, flags ("") with empty data,
    /// values as a string inside the data string.
    static func encodeOptions(_ options: [String: String]) -> [UInt8] {
        var writer = SSHWireWriter()
        for (name, value) in options.sorted(by: { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }) {
            writer.writeString(name)
            if value.isEmpty {
                writer.writeString([UInt8]())
            } else {
                var inner = SSHWireWriter()
                inner.writeString(value)
                writer.writeString(inner.bytes)
            }
        }
        return writer.bytes
    }
}
