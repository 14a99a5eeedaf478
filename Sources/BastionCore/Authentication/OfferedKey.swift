/// What the client offered in a publickey request, decoded from its wire blob.
public enum OfferedKey: Sendable, Hashable {
    case plain(SSHPublicKey)
    case certificate(SSHCertificate)

    /// Decodes a key blob as received from the SSH engine; `nil` for a malformed or
    /// unsupported blob (the caller denies it).
    public init?(blob: [UInt8]) {
        var reader = SSHWireReader(blob)
        guard let type = try? reader.readString() else { return nil }
        if String(decoding: type, as: UTF8.self).hasSuffix("-cert-v01@openssh.com") {
            guard let certificate = try? SSHCertificate(blob: blob) else { return nil }
            self = .certificate(certificate)
        } else {
            guard let key = try? SSHPublicKey(blob: blob) else { return nil }
            self = .plain(key)
        }
    }
}
