import Foundation
import XCTest
@testable import BastionPKCS11

/// A throwaway softhsm2 token in a temporary directory: its own SOFTHSM2_CONF, one initialised
/// token labelled "bastion-test", removed afterwards.
///
/// softhsm2 reads SOFTHSM2_CONF in C_Initialize, and `PKCS11Module` finalises when its last
/// instance goes away, so each test gets a fresh token as long as it releases its modules before
/// the next one starts (keep them in locals, not in properties).
final class SoftHSMFixture {
    static let modulePath = "/usr/lib/softhsm/libsofthsm2.so"
    static let tokenLabel = "bastion-test"
    static let userPIN = Array("1234".utf8)
    static let securityOfficerPIN = "5678"

    let directory: URL

    init() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.modulePath), "softhsm2 is not installed")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bastion-p11-\(UUID().uuidString)")
        let tokens = directory.appendingPathComponent("tokens")
        try FileManager.default.createDirectory(at: tokens, withIntermediateDirectories: true)
        let configuration = directory.appendingPathComponent("softhsm2.conf")
        try """
        directories.tokendir = \(tokens.path)
        objectstore.backend = file
        log.level = ERROR
        slots.removable = false

        """.write(to: configuration, atomically: true, encoding: .utf8)
        setenv("SOFTHSM2_CONF", configuration.path, 1)
        let result = try run("/usr/bin/softhsm2-util", [
            "--init-token", "--free", "--label", Self.tokenLabel, "--pin", String(decoding: Self.userPIN, as: UTF8.self),
            "--so-pin", Self.securityOfficerPIN,
        ])
        guard result.status == 0 else { throw FixtureError("softhsm2-util --init-token failed: \(result.output)") }
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    func openToken(pin: [UInt8] = SoftHSMFixture.userPIN, maxSessions: Int = 8) throws -> PKCS11Token {
        let module = try PKCS11Module(path: Self.modulePath)
        return try PKCS11Token(module: module, label: Self.tokenLabel, pin: pin, maxSessions: maxSessions)
    }

    /// Verifies an Ed25519 signature with the OpenSSL command line, independent of the token.
    func opensslVerifies(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) throws -> Bool {
        let name = UUID().uuidString
        let pem = directory.appendingPathComponent("\(name).pem")
        let messageFile = directory.appendingPathComponent("\(name).msg")
        let signatureFile = directory.appendingPathComponent("\(name).sig")
        defer { for file in [pem, messageFile, signatureFile] { try? FileManager.default.removeItem(at: file) } }
        // SubjectPublicKeyInfo for Ed25519 (RFC 8410) is a fixed 12-byte prefix and the key.
        let spki: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00] + publicKey
        try "-----BEGIN PUBLIC KEY-----\n\(Data(spki).base64EncodedString())\n-----END PUBLIC KEY-----\n"
            .write(to: pem, atomically: true, encoding: .utf8)
        try Data(message).write(to: messageFile)
        try Data(signature).write(to: signatureFile)
        let result = try run("/usr/bin/openssl", [
            "pkeyutl", "-verify", "-pubin", "-inkey", pem.path, "-rawin", "-in", messageFile.path, "-sigfile", signatureFile.path,
        ])
        return result.status == 0
    }

    /// Lists the token's objects with pkcs11-tool, an independent view of what the token holds.
    func listObjects() throws -> String {
        try run("/usr/bin/pkcs11-tool", [
            "--module", Self.modulePath, "--token-label", Self.tokenLabel, "--login", "--pin",
            String(decoding: Self.userPIN, as: UTF8.self), "--list-objects",
        ]).output
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
