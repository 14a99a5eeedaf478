public import BastionCrypto

extension SSHPublicKey {
    /// The `ssh-ed25519` blob of an Ed25519 key (RFC 8709 §4: string type, string key),
    /// e.g. to publish Bastion's CA key in `TrustedUserCAKeys` form.
    public init(ed25519 key: Ed25519PublicKey, comment: String? = nil) {
        var writer = SSHWireWriter()
        writer.writeString("ssh-ed25519")
        writer.writeString(key.rawRepresentation)
        self.algorithm = "ssh-ed25519"
        self.blob = writer.bytes
        self.comment = comment
        self.kind = .ed25519
    }
}
