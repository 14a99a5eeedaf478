import BastionTesting
import Foundation

/// The second SSH clients the tests drive, ansible-core and Paramiko, as the issues name them:
/// from PyPI, pinned by version and SHA-256 in `Tests/python-clients.txt` and installed by
/// `make test-clients` (which `make test` runs) into `.build/test-clients`, run by Debian's python3.
enum PythonClients {
    static let python = "/usr/bin/python3"

    /// `.build/test-clients` in this checkout.
    static var directory: String {
        get throws {
            let directory = BastiondBinary.checkout.appendingPathComponent(".build/test-clients").path
            guard FileManager.default.fileExists(atPath: directory + "/.installed") else {
                throw HarnessError(message: "ansible-core and Paramiko from PyPI are not installed: run `make test-clients` (make test does)")
            }
            return directory
        }
    }

    /// `ansible`, the controller script pip installed.
    static var ansible: String { get throws { try directory + "/bin/ansible" } }

    /// What a Python client needs to find its packages (and only these: the system's
    /// python3-paramiko or ansible, if present, come after). Ansible insists on UTF-8.
    static var environment: [String: String] {
        get throws { ["PYTHONPATH": try directory, "LC_ALL": "C.UTF-8", "PYTHONWARNINGS": "ignore::DeprecationWarning"] }
    }

    /// The version of `package` the client runs, as Python imports it (`ansible` from
    /// `ansible-core`), and the one `make test-clients` pinned: proof the PyPI copy is in use.
    static func versions(of package: String, module: String) async throws -> (running: String, pinned: String?) {
        let stamp = try String(contentsOfFile: try directory + "/.installed", encoding: .utf8)
        // The stamp is a copy of Tests/python-clients.txt: `NAME==VERSION \` lines.
        let pinned = stamp.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix(package + "==") }.map { String($0.dropFirst(package.count + 2)) }
        let probe = try await ProcessRunner.run(
            python, ["-c", "import importlib.metadata as m; print(m.version('\(package)'), __import__('\(module)').__file__)"],
            environment: try environment
        )
        let fields = probe.stdout.split(separator: " ")
        guard probe.status == 0, fields.count == 2, fields[1].hasPrefix(try directory) else {
            throw HarnessError(message: "\(package) does not come from .build/test-clients: \(probe)")
        }
        return (String(fields[0]), pinned)
    }
}
