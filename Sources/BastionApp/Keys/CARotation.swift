public import BastionCore
import BastionCrypto
import BastionPKCS11
public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Rotation of the user CA and the upstream CA with overlap (docs/keys.md "CA rotation").
///
/// `bastiond ca rotate user|upstream` makes the CA's next key at once and records when it
/// starts signing (`ca.overlap`, default 24h, later). Until then both keys are published
/// (`ca show`, `target setup`) and trusted, and the current one signs; from then on only the
/// next one. The daemon's hourly maintenance then destroys the old key and makes the next
/// one current (`ca-keys.json` in the data directory says which generation is which).
public enum CAAuthority: String, Sendable, CaseIterable, Codable {
    case user
    case upstream

    /// Generation 1 keeps the name the key always had.
    func fileName(generation: Int) -> String {
        let base = self == .user ? KeyMaterial.FileName.userAuthority : KeyMaterial.FileName.upstreamAuthority
        return generation == 1 ? base : "\(base).\(generation)"
    }

    func tokenLabel(generation: Int) -> String {
        let base = self == .user ? TokenKeys.Label.userAuthority : TokenKeys.Label.upstreamAuthority
        return generation == 1 ? base : "\(base)-\(generation)"
    }

    var comment: String { self == .user ? "bastion user CA" : "bastion upstream CA" }
}

/// Which generation of each CA is current, and the next one during a rotation.
struct CAKeyState: Codable, Sendable, Equatable {
    struct Next: Codable, Sendable, Equatable {
        var generation: Int
        var created: Date
        var signsFrom: Date
    }

    struct Authority: Codable, Sendable, Equatable {
        var generation = 1
        var next: Next?
    }

    var user = Authority()
    var upstream = Authority()

    subscript(_ authority: CAAuthority) -> Authority {
        get { authority == .user ? user : upstream }
        set { if authority == .user { user = newValue } else { upstream = newValue } }
    }

    static let fileName = "ca-keys.json"

    static func load(directory: String) throws -> CAKeyState {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return CAKeyState() }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(CAKeyState.self, from: data) } catch {
            throw KeyMaterialError(path: path, reason: "unreadable: \(error)")
        }
    }

    func save(directory: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try KeyMaterial.replaceProtected(directory + "/" + Self.fileName, contents: String(decoding: try encoder.encode(self), as: UTF8.self) + "\n")
    }
}

/// Where a provider keeps CA keys by generation.
protocol CAKeyVault: Sendable {
    func load(_ authority: CAAuthority, generation: Int) throws -> any Ed25519Signer
    func create(_ authority: CAAuthority, generation: Int) throws -> any Ed25519Signer
    func destroy(_ authority: CAAuthority, generation: Int) throws
    func location(of authority: CAAuthority, generation: Int) -> String
}

struct FileCAKeyVault: CAKeyVault {
    let directory: String

    func location(of authority: CAAuthority, generation: Int) -> String { directory + "/" + authority.fileName(generation: generation) }

    /// Generation 1 is made at first start, as it always was; a later one only by `create`.
    func load(_ authority: CAAuthority, generation: Int) throws -> any Ed25519Signer {
        let path = location(of: authority, generation: generation)
        guard generation == 1 || FileManager.default.fileExists(atPath: path) else {
            throw KeyMaterialError(path: path, reason: "missing (see \(CAKeyState.fileName))")
        }
        return try KeyMaterial.signingKey(at: path, comment: authority.comment, created: { _ in })
    }

    func create(_ authority: CAAuthority, generation: Int) throws -> any Ed25519Signer {
        let path = location(of: authority, generation: generation)
        guard !FileManager.default.fileExists(atPath: path) else { throw KeyMaterialError(path: path, reason: "exists already") }
        return try KeyMaterial.signingKey(at: path, comment: authority.comment, created: { _ in })
    }

    func destroy(_ authority: CAAuthority, generation: Int) throws {
        let path = location(of: authority, generation: generation)
        try KeyMaterial.shred(path)
        unlink(path + ".pub")
    }
}

struct TokenCAKeyVault: CAKeyVault {
    let token: PKCS11Token
    let tokenLabel: String

    func location(of authority: CAAuthority, generation: Int) -> String {
        "pkcs11 token \"\(tokenLabel)\" label \(authority.tokenLabel(generation: generation))"
    }

    func load(_ authority: CAAuthority, generation: Int) throws -> any Ed25519Signer {
        guard let key = try token.findEd25519Key(label: authority.tokenLabel(generation: generation)) else {
            throw StartupError(message: """
                keys.pkcs11_token: token "\(tokenLabel)" has no key labelled "\(authority.tokenLabel(generation: generation))"\
                \(generation == 1 ? "; create the keys with: bastiond keys init" : "")
                """)
        }
        return try TokenSigner(token: token, key: key)
    }

    func create(_ authority: CAAuthority, generation: Int) throws -> any Ed25519Signer {
        try TokenSigner(token: token, key: try token.generateEd25519Key(label: authority.tokenLabel(generation: generation)))
    }

    func destroy(_ authority: CAAuthority, generation: Int) throws {
        try token.destroyObjects(label: authority.tokenLabel(generation: generation))
    }
}

extension CAKeyState {
    /// The keys of `authority` as this state and `vault` have them.
    func keys(_ authority: CAAuthority, vault: any CAKeyVault) throws -> AuthorityKeys {
        let entry = self[authority]
        let current = try vault.load(authority, generation: entry.generation)
        guard let next = entry.next else { return AuthorityKeys(current: current) }
        return AuthorityKeys(current: current, next: .init(signer: try vault.load(authority, generation: next.generation), signsFrom: next.signsFrom))
    }
}

/// `ca rotate` and the promotion after the overlap, audited as `ca.rotate`.
public struct CARotation: Sendable {
    let environment: BastionEnvironment
    let actor: AuditEvent.Actor

    public init(environment: BastionEnvironment, actor: AuditEvent.Actor) {
        self.environment = environment
        self.actor = actor
    }

    private var directory: String { environment.configuration.server.dataDirectory }

    /// Makes `authority`'s next key; it signs from `now + overlap`. Returns its public key and that time.
    public func rotate(_ authority: CAAuthority, overlap: TimeInterval) throws -> (key: SSHPublicKey, signsFrom: Date) {
        var state = try CAKeyState.load(directory: directory)
        guard state[authority].next == nil else {
            throw StartupError(message: "the \(authority.rawValue) CA is rotating already (its next key signs from \(state[authority].next.map { AuditEvent.timestamp($0.signsFrom) } ?? "?"))")
        }
        let now = environment.clock.now()
        let vault = environment.keys.caKeyVault
        let previous = try vault.load(authority, generation: state[authority].generation)
        let generation = state[authority].generation + 1
        let signer = try vault.create(authority, generation: generation)
        let signsFrom = now.addingTimeInterval(overlap)
        state[authority].next = .init(generation: generation, created: now, signsFrom: signsFrom)
        try state.save(directory: directory)
        let key = SSHPublicKey(ed25519: signer.publicKey)
        try environment.auditLog.append(AuditEvent(
            type: .caRotate, time: now, actor: actor, target: vault.location(of: authority, generation: generation),
            details: [
                "authority": authority.rawValue, "fingerprint": key.fingerprint,
                "previous_fingerprint": SSHPublicKey(ed25519: previous.publicKey).fingerprint, "signs_from": AuditEvent.timestamp(signsFrom),
            ]
        ))
        return (key, signsFrom)
    }

    /// After the overlap: the next key becomes current and the old one is destroyed.
    @discardableResult
    public func promote() throws -> [CAAuthority] {
        var state = try CAKeyState.load(directory: directory)
        let now = environment.clock.now()
        var promoted: [CAAuthority] = []
        for authority in CAAuthority.allCases {
            guard let next = state[authority].next, now >= next.signsFrom else { continue }
            let old = state[authority].generation
            let vault = environment.keys.caKeyVault
            try environment.auditLog.append(AuditEvent(
                type: .caRotate, time: now, actor: actor, target: vault.location(of: authority, generation: old),
                reason: "the overlap ended: the old key is destroyed",
                details: ["authority": authority.rawValue, "phase": "completed", "generation": String(next.generation)]
            ))
            try vault.destroy(authority, generation: old)
            state[authority] = .init(generation: next.generation, next: nil)
            try state.save(directory: directory)
            promoted.append(authority)
        }
        return promoted
    }
}
