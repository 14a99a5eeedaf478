import Foundation

/// A throwaway softhsm2 token for a bastiond under test: its own `SOFTHSM2_CONF` in a
/// temporary directory, one initialised token. Pass ``environment`` to every process that
/// opens it (never `setenv` in the test process: tests run in parallel).
public struct SoftHSMToken: Sendable {
    public static let modulePath = "/usr/lib/softhsm/libsofthsm2.so"
    public let label: String
    public let pin: String
    public let configurationPath: String

    public static var isInstalled: Bool { FileManager.default.fileExists(atPath: modulePath) }

    /// Initialises a token labelled `label` under `directory`.
    public static func make(in directory: String, label: String = "bastion", pin: String = "4711-2342") async throws -> SoftHSMToken {
        let tokens = directory + "/softhsm-tokens"
        try FileManager.default.createDirectory(atPath: tokens, withIntermediateDirectories: true)
        let configuration = directory + "/softhsm2.conf"
        try "directories.tokendir = \(tokens)\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
            .write(toFile: configuration, atomically: true, encoding: .utf8)
        let token = SoftHSMToken(label: label, pin: pin, configurationPath: configuration)
        let made = try await ProcessRunner.run(
            "softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-\(pin)"], environment: token.environment
        )
        guard made.status == 0 else { throw SoftHSMError(description: "softhsm2-util --init-token: \(made)") }
        return token
    }

    public var environment: [String: String] { ["SOFTHSM2_CONF": configurationPath] }

    /// `pkcs11-tool --list-objects` (OpenSC): what the token holds, seen by another program.
    public func listObjects() async throws -> String {
        let listed = try await ProcessRunner.run(
            "pkcs11-tool", ["--module", Self.modulePath, "--token-label", label, "--login", "--pin", pin, "--list-objects"], environment: environment
        )
        return listed.stdout + listed.stderr
    }
}

public struct SoftHSMError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}
