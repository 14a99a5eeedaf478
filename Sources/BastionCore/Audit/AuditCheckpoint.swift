public import BastionCrypto
public import Foundation

/// A signed statement "the chain's record `seq` has hash `hash`, as of `time`".
///
/// Checkpoints make truncation and wholesale rewriting detectable: whoever rewrites the
/// chain after a checkpoint must also forge the audit key's signature. They are never
/// purged (a few hundred bytes each), so a purged range stays provably expired: its
/// closing checkpoint's signed time is older than the retention floor.
public struct AuditCheckpoint: Sendable, Hashable {
    public var seq: Int64
    public var hash: [UInt8]
    /// Unix time in milliseconds: an integer, so what is stored is exactly what was signed.
    public var timeMilliseconds: Int64
    public var signature: [UInt8]
    /// The audit key that signed it: its version in the key history (``AuditKeyEntry``).
    /// Not part of the signed message: naming another key only makes the signature fail.
    /// Checkpoints older than rotation have none stored and mean version 1.
    public var keyVersion: Int

    public init(seq: Int64, hash: [UInt8], timeMilliseconds: Int64, signature: [UInt8], keyVersion: Int = 1) {
        self.seq = seq
        self.hash = hash
        self.timeMilliseconds = timeMilliseconds
        self.signature = signature
        self.keyVersion = keyVersion
    }

    public var time: Date { Date(timeIntervalSince1970: Double(timeMilliseconds) / 1000) }

    /// Signs a checkpoint for `seq`/`hash` at `time`.
    public static func signed(seq: Int64, hash: [UInt8], time: Date, key: any Ed25519Signer, keyVersion: Int = 1) throws -> AuditCheckpoint {
        let milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        let message = signedMessage(seq: seq, hash: hash, timeMilliseconds: milliseconds)
        return AuditCheckpoint(
            seq: seq, hash: hash, timeMilliseconds: milliseconds, signature: try key.signature(for: message), keyVersion: keyVersion
        )
    }

    /// True when `signature` is the audit key's over this checkpoint's fields.
    public func isValid(publicKey: Ed25519PublicKey) -> Bool {
        publicKey.isValidSignature(signature, for: Self.signedMessage(seq: seq, hash: hash, timeMilliseconds: timeMilliseconds))
    }

    /// What is signed: a domain-separated text, so the signature cannot be mistaken for one
    /// over anything else the audit key might ever sign.
    public static func signedMessage(seq: Int64, hash: [UInt8], timeMilliseconds: Int64) -> [UInt8] {
        Array("bastion-audit-checkpoint-v1\nseq=\(seq)\nhash=\(AuditChain.hex(hash))\ntime_ms=\(timeMilliseconds)\n".utf8)
    }
}
