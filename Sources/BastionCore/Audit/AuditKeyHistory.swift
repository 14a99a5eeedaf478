public import BastionCrypto
public import Foundation

/// One audit key in the key history (`audit_keys`; docs/audit-chain.md "Audit key rotation").
///
/// Version 1 is the first key, the trust anchor: its entry carries no signature, and a verifier
/// never believes it from the table, only from the key it holds or is given. Every later
/// version is introduced by a statement signed by its predecessor, naming the predecessor's
/// fingerprint, the new public key and the first seq the new key seals: from that seq on,
/// the predecessor signs nothing, so a retired key that leaks later cannot forge what came after.
public struct AuditKeyEntry: Sendable, Hashable {
    public var version: Int
    public var publicKey: Ed25519PublicKey
    /// The first seq whose checkpoints this key signs (1 for version 1); the previous key's
    /// last checkpoint sealed the record before it.
    public var fromSeq: Int64
    /// When the key took over (Unix ms, signed as stored).
    public var timeMilliseconds: Int64
    /// The previous version's signature over ``statement``; empty for version 1.
    public var signature: [UInt8]

    public init(version: Int, publicKey: Ed25519PublicKey, fromSeq: Int64, timeMilliseconds: Int64, signature: [UInt8]) {
        self.version = version
        self.publicKey = publicKey
        self.fromSeq = fromSeq
        self.timeMilliseconds = timeMilliseconds
        self.signature = signature
    }

    /// The first key's entry (no signature: the verifier's own key vouches for it).
    public static func first(_ publicKey: Ed25519PublicKey, time: Date) -> AuditKeyEntry {
        AuditKeyEntry(version: 1, publicKey: publicKey, fromSeq: 1, timeMilliseconds: milliseconds(time), signature: [])
    }

    /// The entry of the version after `previous`, signed by `signer` (the previous key).
    public static func next(
        after previous: AuditKeyEntry, publicKey: Ed25519PublicKey, fromSeq: Int64, time: Date, signer: any Ed25519Signer
    ) throws -> AuditKeyEntry {
        var entry = AuditKeyEntry(
            version: previous.version + 1, publicKey: publicKey, fromSeq: fromSeq, timeMilliseconds: milliseconds(time), signature: []
        )
        entry.signature = try signer.signature(for: entry.statement(previous: previous.publicKey))
        return entry
    }

    public var time: Date { Date(timeIntervalSince1970: Double(timeMilliseconds) / 1000) }
    public var fingerprint: String { SSHPublicKey(ed25519: publicKey).fingerprint }
    public var publicKeyLine: String { SSHPublicKey(ed25519: publicKey).authorizedKeysLine }

    /// What the previous key signs: domain-separated from checkpoints (`bastion-audit-checkpoint-v1`).
    public func statement(previous: Ed25519PublicKey) -> [UInt8] {
        Array("""
            bastion-audit-key-v1
            version=\(version)
            previous=\(SSHPublicKey(ed25519: previous).fingerprint)
            next=\(publicKeyLine)
            from_seq=\(fromSeq)
            time_ms=\(timeMilliseconds)

            """.utf8)
    }

    static func milliseconds(_ time: Date) -> Int64 { Int64((time.timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// What a verifier believes about the audit keys: the key history checked from a trust anchor.
///
/// The anchor is the key the verifier holds or is given (normally the first key, version 1).
/// Trusted: the anchor's version and every later version whose entry is signed by its
/// (trusted) predecessor. A checkpoint verifies only with a trusted key, inside that key's
/// range of seqs. A verifier given a later key as anchor cannot authenticate checkpoints of
/// earlier keys, and says so.
public struct AuditKeyTrust: Sendable {
    public private(set) var history: [AuditKeyEntry]
    /// The anchor's version in the history (nil: the anchor is not in it).
    public private(set) var anchorVersion: Int?
    public let anchor: Ed25519PublicKey
    /// Versions authenticated from the anchor.
    public private(set) var trusted: Set<Int> = []
    /// Problems of the history itself (forged or broken entries, an anchor not in it).
    public private(set) var problems: [AuditVerificationReport.Problem] = []

    /// Checks `history` (any order) from `anchor`. An empty history means "one key, never
    /// rotated": the anchor is version 1.
    public init(anchor: Ed25519PublicKey, history: [AuditKeyEntry]) {
        self.anchor = anchor
        self.history = history.isEmpty
            ? [AuditKeyEntry(version: 1, publicKey: anchor, fromSeq: 1, timeMilliseconds: 0, signature: [])]
            : history.sorted { $0.version < $1.version }
        let entries = self.history
        for (index, entry) in entries.enumerated() where entry.version != index + 1 {
            problems.append(.init(seq: entry.fromSeq, kind: .keyHistory, detail: """
                audit key history entry \(index + 1) is version \(entry.version) (\(entry.fingerprint)): versions deleted or inserted
                """))
            self.history = Array(entries.prefix(index))
            break
        }
        guard let anchorIndex = self.history.firstIndex(where: { $0.publicKey == anchor }) else {
            problems.append(.init(seq: 1, kind: .keyHistory, detail: """
                the trusted audit key \(SSHPublicKey(ed25519: anchor).fingerprint) is not in the key history \
                (whose first key is \(entries.first?.fingerprint ?? "-")): the history was replaced, or the wrong key was given
                """))
            return
        }
        anchorVersion = self.history[anchorIndex].version
        trusted.insert(self.history[anchorIndex].version)
        var chainIntact = true
        for index in self.history.indices.dropFirst() {
            let previous = self.history[index - 1]
            let entry = self.history[index]
            let signed = previous.publicKey.isValidSignature(entry.signature, for: entry.statement(previous: previous.publicKey))
            let ordered = entry.fromSeq >= previous.fromSeq
            if !signed || !ordered {
                problems.append(.init(seq: entry.fromSeq, kind: .keyHistory, detail: signed
                    ? "audit key version \(entry.version) (\(entry.fingerprint)) starts at seq \(entry.fromSeq), before version \(previous.version) did"
                    : "audit key version \(entry.version) (\(entry.fingerprint)) is not signed by version \(previous.version) (\(previous.fingerprint)): forged key history entry"))
                if index > anchorIndex { chainIntact = false }
            }
            if index > anchorIndex, chainIntact { trusted.insert(entry.version) }
        }
    }

    /// The entry of `version`, if the history has one.
    public func entry(version: Int) -> AuditKeyEntry? { history.first { $0.version == version } }

    /// The newest entry (the key that signs now).
    public var current: AuditKeyEntry { history[history.count - 1] }

    /// Why `checkpoint` does not verify, or nil when it does.
    public func problem(with checkpoint: AuditCheckpoint) -> AuditVerificationReport.Problem? {
        let seq = checkpoint.seq
        let version = checkpoint.keyVersion
        guard let entry = entry(version: version) else {
            return .init(seq: seq, kind: .checkpointKey, detail: "checkpoint at seq \(seq) names audit key version \(version), which is not in the key history")
        }
        guard trusted.contains(version) else {
            let why = anchorVersion.map { version < $0 } == true
                ? "older than the trusted key (version \(anchorVersion!)), so not authenticated by it: verify with the first audit key"
                : "not reachable from the trusted key through a valid key history"
            return .init(seq: seq, kind: .checkpointKey, detail: "checkpoint at seq \(seq) is signed by audit key version \(version) (\(entry.fingerprint)), \(why)")
        }
        let next = self.entry(version: version + 1)
        if seq < entry.fromSeq || next.map({ seq >= $0.fromSeq }) == true {
            let range = next.map { "seq \(entry.fromSeq)...\($0.fromSeq - 1)" } ?? "seq \(entry.fromSeq) on"
            return .init(seq: seq, kind: .checkpointKey, detail: """
                checkpoint at seq \(seq) is signed by audit key version \(version), which seals only \(range): \
                a retired key signs nothing after its rotation
                """)
        }
        guard checkpoint.isValid(publicKey: entry.publicKey) else {
            return .init(seq: seq, kind: .checkpointSignature, detail: """
                checkpoint at seq \(seq) has an invalid signature for audit key version \(version) (checkpoint forged or altered)
                """)
        }
        return nil
    }
}
