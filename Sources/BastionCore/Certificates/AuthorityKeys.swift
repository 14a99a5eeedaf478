public import BastionCrypto
public import Foundation

/// A certificate authority's keys across a rotation with overlap (docs/keys.md "CA rotation"):
/// `ca rotate` makes the next key at once, so it can be published (targets' TrustedUserCAKeys)
/// while the current key still signs; from `signsFrom` on (`ca.overlap` later) the next key
/// signs, and the current one is neither trusted nor published any more.
public struct AuthorityKeys: Sendable {
    public struct Next: Sendable {
        public let signer: any Ed25519Signer
        public let signsFrom: Date

        public init(signer: any Ed25519Signer, signsFrom: Date) {
            self.signer = signer
            self.signsFrom = signsFrom
        }
    }

    public let current: any Ed25519Signer
    public let next: Next?

    public init(current: any Ed25519Signer, next: Next? = nil) {
        self.current = current
        self.next = next
    }

    /// The key that signs at `now`.
    public func signer(at now: Date) -> any Ed25519Signer {
        if let next, now >= next.signsFrom { return next.signer }
        return current
    }

    /// The keys trusted and published at `now`: both during the overlap, then the next only.
    public func published(at now: Date) -> [SSHPublicKey] {
        guard let next else { return [SSHPublicKey(ed25519: current.publicKey)] }
        if now >= next.signsFrom { return [SSHPublicKey(ed25519: next.signer.publicKey)] }
        return [SSHPublicKey(ed25519: current.publicKey), SSHPublicKey(ed25519: next.signer.publicKey)]
    }

    /// The keys a certificate may be signed by, with the time each stops being trusted.
    public var trust: [CertificateVerifier.TrustedAuthority] {
        guard let next else { return [.init(key: SSHPublicKey(ed25519: current.publicKey))] }
        return [
            .init(key: SSHPublicKey(ed25519: current.publicKey), until: next.signsFrom),
            .init(key: SSHPublicKey(ed25519: next.signer.publicKey)),
        ]
    }
}
