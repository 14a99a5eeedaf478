import BastionCore
import BastionCrypto
import BastionPKCS11
import Foundation
import Synchronization

/// The `pkcs11` key provider: the master key (AES-256) and the three Ed25519 keys are made in
/// a PKCS#11 token by `bastiond keys init` and used there, so no CA, audit or master key is
/// ever in bastiond's memory or on its disk (docs/keys.md).
///
/// What the data directory still holds: the SSH host key (libssh reads it from a file) and
/// `derive.key.sealed`, the root of the link and token keys, wrapped by the token's master key.
public enum TokenKeys {
    /// The labels of Bastion's objects in the token.
    public enum Label {
        public static let master = "bastion-master-v1"
        public static let userAuthority = "bastion-user-ca"
        public static let upstreamAuthority = "bastion-upstream-ca"
        public static let auditKey = "bastion-audit"
        static let signing = [userAuthority, upstreamAuthority, auditKey]
    }

    public static let derivationRootFile = "derive.key.sealed"
    static let derivationContext = Array("bastion/derivation-root".utf8)

    /// Opens the token and finds every key; refuses to start if one is missing.
    static func open(
        _ settings: BastionConfiguration.KeysConfiguration, dataDirectory: String, hostKeyPath: String, hostKey: Ed25519PrivateKey
    ) throws -> KeyMaterial {
        let token = try login(settings)
        func signer(_ label: String) throws -> TokenSigner {
            guard let key = try keysError("pkcs11_token", { try token.findEd25519Key(label: label) }) else {
                throw missing(settings, label)
            }
            return try TokenSigner(token: token, key: key)
        }
        let vault = TokenMasterKeyVault(token: token, tokenLabel: settings.pkcs11Token ?? "")
        guard try keysError("pkcs11_token", { try token.findAESKey(label: Label.master) }) != nil else {
            throw missing(settings, Label.master)
        }
        let schedule = try MasterKeyScheduleFile.load(directory: dataDirectory, firstCreated: Date())
        let keyring = try KeyMaterial.keyring(schedule, vault: vault)
        guard let root = try KeyMaterial.derivationRoot(in: dataDirectory, keyring: keyring) else {
            throw StartupError(message: "keys: \(dataDirectory)/\(derivationRootFile) does not exist; create the keys with: bastiond keys init")
        }
        let caVault = TokenCAKeyVault(token: token, tokenLabel: settings.pkcs11Token ?? "")
        let caState = try CAKeyState.load(directory: dataDirectory)
        let userKeys = try caState.keys(.user, vault: caVault)
        let userAuthority = userKeys.current
        // One signature checked in software: a token that signs with some other key (or not
        // Ed25519) is found now, not when the first engineer's certificate fails to verify.
        let probe = Array("bastion/token-probe".utf8)
        guard userAuthority.publicKey.isValidSignature(try userAuthority.signature(for: probe), for: probe) else {
            throw StartupError(message: "keys.pkcs11_token: the token's signature with \(Label.userAuthority) does not verify")
        }
        return KeyMaterial(
            hostKeyPath: hostKeyPath, hostKey: hostKey,
            userAuthorityKeys: userKeys, upstreamAuthorityKeys: try caState.keys(.upstream, vault: caVault), caKeyVault: caVault,
            auditKey: try signer(TokenAuditKeyVault.label(of: AuditKeyFiles.localVersion(in: dataDirectory))),
            sealer: SecretSealer(keyring: keyring, derivationRoot: root.bytes), masterKeys: keyring, masterKeyVault: vault,
            derivationRoot: root.bytes, provider: .pkcs11
        )
    }

    /// `bastiond keys init`: makes whatever keys the token lacks (and the wrapped derivation
    /// root); returns what it made. Never replaces a key.
    public static func initialise(_ settings: BastionConfiguration.KeysConfiguration, dataDirectory: String) throws -> [String] {
        let token = try login(settings)
        var made: [String] = []
        let master: PKCS11Key
        if let existing = try keysError("pkcs11_token", { try token.findAESKey(label: Label.master) }) {
            master = existing
        } else {
            master = try keysError("pkcs11_token", { try token.generateAESKey(label: Label.master) })
            made.append(Label.master)
        }
        for label in Label.signing where try keysError("pkcs11_token", { try token.findEd25519Key(label: label) }) == nil {
            _ = try keysError("pkcs11_token", { try token.generateEd25519Key(label: label) })
            made.append(label)
        }
        try KeyMaterial.ensureDirectory(dataDirectory)
        let path = dataDirectory + "/" + derivationRootFile
        if !FileManager.default.fileExists(atPath: path) {
            let keyring = MasterKeyring(current: TokenMasterKey(token: token, key: master, version: 1))
            try KeyMaterial.writeDerivationRoot(SymmetricKey.random(), in: dataDirectory, keyring: keyring)
            made.append(path)
        }
        return made
    }

    /// Loads the module and logs in to the token with the PIN file's PIN (checked 0600 first).
    private static func login(_ settings: BastionConfiguration.KeysConfiguration) throws -> PKCS11Token {
        let modulePath = settings.pkcs11Module ?? ""
        let pinPath = settings.pkcs11PinFile ?? ""
        let pin: [UInt8]
        do {
            guard let text = try KeyMaterial.readProtected(pinPath) else {
                throw StartupError(message: "keys.pkcs11_pin_file: \(pinPath) does not exist")
            }
            pin = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        } catch let error as KeyMaterialError {
            throw StartupError(message: "keys.pkcs11_pin_file: \(error)")
        }
        guard !pin.isEmpty else { throw StartupError(message: "keys.pkcs11_pin_file: \(pinPath) is empty") }
        let loaded: PKCS11Module = try keysError("pkcs11_module", { try Self.module(path: modulePath) })
        return try keysError("pkcs11_token", { try PKCS11Token(module: loaded, label: settings.pkcs11Token ?? "", pin: pin) })
    }

    private static func missing(_ settings: BastionConfiguration.KeysConfiguration, _ label: String) -> StartupError {
        StartupError(message: """
            keys.pkcs11_token: token "\(settings.pkcs11Token ?? "")" has no key labelled "\(label)"; create the keys with: bastiond keys init
            """)
    }

    /// Runs a token call, naming the `[keys]` setting in its error.
    private static func keysError<T>(_ key: String, _ body: () throws -> T) throws(StartupError) -> T {
        do { return try body() } catch { throw StartupError(message: "keys.\(key): \(error)") }
    }

    /// One loaded module per path and process: PKCS#11 allows one `C_Initialize` per process,
    /// and admin commands may open the keys more than once.
    private static let modules = Mutex<[String: PKCS11Module]>([:])

    private static func module(path: String) throws -> PKCS11Module {
        try modules.withLock { loaded in
            if let module = loaded[path] { return module }
            let module = try PKCS11Module(path: path)
            loaded[path] = module
            return module
        }
    }
}

/// An Ed25519 key in the token, signing there.
struct TokenSigner: Ed25519Signer {
    let token: PKCS11Token
    let key: PKCS11SigningKey
    let publicKey: Ed25519PublicKey

    init(token: PKCS11Token, key: PKCS11SigningKey) throws {
        self.token = token
        self.key = key
        self.publicKey = try Ed25519PublicKey(rawRepresentation: key.publicKey)
    }

    func signature(for message: [UInt8]) throws -> [UInt8] {
        try token.sign(message, with: key)
    }
}

/// The token's AES-256 key, wrapping data keys with AES-GCM inside the token. The nonce is
/// made here and stored before the wrapped bytes (some HSMs in FIPS mode insist on making it
/// themselves: docs/keys.md).
struct TokenMasterKey: MasterKey {
    let token: PKCS11Token
    let key: PKCS11Key
    let version: UInt32

    func wrap(_ dataKey: SymmetricKey, context: [UInt8]) throws -> [UInt8] {
        let nonce = SecureRandom.bytes(AESGCM.nonceByteCount)
        return nonce + (try token.encryptGCM(dataKey.bytes, key: key, iv: nonce, aad: MasterKeyContext.wrapping(context)))
    }

    func unwrap(_ wrapped: [UInt8], context: [UInt8]) throws -> SymmetricKey {
        guard wrapped.count > AESGCM.nonceByteCount + AESGCM.tagByteCount else { throw EnvelopeError("wrapped key too short") }
        let nonce = Array(wrapped.prefix(AESGCM.nonceByteCount))
        let body = Array(wrapped.dropFirst(AESGCM.nonceByteCount))
        return try SymmetricKey(bytes: token.decryptGCM(body, key: key, iv: nonce, aad: MasterKeyContext.wrapping(context)))
    }
}
