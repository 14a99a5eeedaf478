import BastionTesting
import Foundation
import Testing

/// `make test-clients` installs the tests' second SSH clients from PyPI, and only the wheels
/// `Tests/python-clients.txt` pins by SHA-256: a wheel whose hash differs (a tampered mirror, a
/// re-uploaded file) or a line without a hash stops the install. Driven through the real
/// Makefile recipe, with Paramiko alone.
@Suite("Test clients from PyPI")
struct PythonClientsTests {
    /// `make test-clients` with `requirements` into a fresh directory; the directory and the result.
    static func install(_ requirements: String, in scratch: TemporaryDirectory, name: String) async throws -> (String, ProcessRunner.Result) {
        let file = scratch.file(name + ".txt")
        try requirements.write(toFile: file, atomically: true, encoding: .utf8)
        let target = scratch.file(name)
        let result = try await ProcessRunner.run(
            "make", ["-s", "-C", BastiondBinary.checkout.path, "test-clients", "TEST_CLIENTS=\(file)", "TEST_CLIENTS_DIR=\(target)"], timeout: 120
        )
        return (target, result)
    }

    @Test("a wheel whose SHA-256 differs from the pin, or a line without one, is refused; the pinned one installs")
    func hashesAreRequired() async throws {
        let pinned = try String(contentsOfFile: BastiondBinary.checkout.appendingPathComponent("Tests/python-clients.txt").path, encoding: .utf8)
        let lines = pinned.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("paramiko==") })
        let paramiko = lines[start] + "\n" + lines[start + 1] + "\n"
        #expect(paramiko.contains("--hash=sha256:"))
        let scratch = try TemporaryDirectory(prefix: "python-clients")

        let (good, installed) = try await Self.install(paramiko, in: scratch, name: "pinned")
        #expect(installed.status == 0, "\(installed)")
        #expect(FileManager.default.fileExists(atPath: good + "/paramiko/__init__.py"))

        // One hex digit of the pin changed: the wheel pip finds no longer matches it.
        let last = try #require(paramiko.range(of: "\n", options: .backwards))
        let digit = paramiko[paramiko.index(before: last.lowerBound)]
        let tampered = paramiko.replacingCharacters(in: paramiko.index(before: last.lowerBound) ..< last.lowerBound, with: digit == "0" ? "1" : "0")
        let (refusedDirectory, refused) = try await Self.install(tampered, in: scratch, name: "tampered")
        #expect(refused.status != 0, "\(refused)")
        #expect((refused.stdout + refused.stderr).uppercased().contains("DO NOT MATCH THE HASHES"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: refusedDirectory + "/paramiko"), "a wheel with another hash was installed")
        #expect(!FileManager.default.fileExists(atPath: refusedDirectory + "/.installed"))

        let (unpinnedDirectory, unpinned) = try await Self.install("paramiko==5.1.0\n", in: scratch, name: "unpinned")
        #expect(unpinned.status != 0, "\(unpinned)")
        #expect(!FileManager.default.fileExists(atPath: unpinnedDirectory + "/paramiko"), "a wheel without a pinned hash was installed")
    }
}
