import Foundation

/// A temporary directory removed when the test drops it.
final class KeysTempDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("bastion-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    func write(_ text: String, to name: String, mode: Int = 0o600) throws -> String {
        let file = path(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }

    func read(_ name: String) throws -> String {
        try String(contentsOfFile: path(name), encoding: .utf8)
    }

    /// Generates a key with ssh-keygen and returns the path of the private key.
    func generateKey(_ name: String, type: String, bits: Int? = nil) throws -> String {
        var arguments = ["-q", "-t", type, "-N", "", "-C", name, "-f", path(name)]
        if let bits { arguments += ["-b", String(bits)] }
        try KeysTestTool.sshKeygen(arguments)
        return path(name)
    }
}
