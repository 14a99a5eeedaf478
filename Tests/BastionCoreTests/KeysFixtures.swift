import Foundation

/// Keys made once per test run with the real ssh-keygen (RSA generation is the slow
/// part), held as file contents so each test writes them into its own directory.
struct KeysFixtures: Sendable {
    struct KeyPair: Sendable {
        /// The `-C` comment and file name.
        var name: String
        /// The unencrypted private key file.
        var privateFile: String
        /// The `.pub` line.
        var publicLine: String
    }

    var ed25519: KeyPair
    var ecdsa256: KeyPair
    var rsa2048: KeyPair
    var rsa3072: KeyPair

    /// Generated on first use; an error is kept and rethrown to every test that asks.
    static let shared: Result<KeysFixtures, any Error> = Result { try KeysFixtures() }

    static func get() throws -> KeysFixtures {
        try shared.get()
    }

    private init() throws {
        let directory = try KeysTempDirectory()
        func make(_ name: String, _ type: String, bits: Int? = nil) throws -> KeyPair {
            let path = try directory.generateKey(name, type: type, bits: bits)
            return KeyPair(
                name: name,
                privateFile: try String(contentsOfFile: path, encoding: .utf8),
                publicLine: try String(contentsOfFile: path + ".pub", encoding: .utf8)
            )
        }
        ed25519 = try make("user-ed25519", "ed25519")
        ecdsa256 = try make("user-ecdsa", "ecdsa", bits: 256)
        rsa2048 = try make("user-rsa2048", "rsa", bits: 2048)
        rsa3072 = try make("user-rsa3072", "rsa", bits: 3072)
    }
}
