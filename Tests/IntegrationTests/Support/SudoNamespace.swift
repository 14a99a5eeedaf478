import BastionTesting
import Foundation

/// Real sudo with Bastion's PAM service, without touching the host: each `run` starts
/// `unshare -m` (a private mount namespace that ends with the command) and bind-mounts over
/// /etc/pam.d, /etc/sudoers, /etc/passwd, /etc/shadow and /etc/group copies that add the
/// shipped `bastion-sudo` service, the shipped sudoers defaults plus a NOPASSWD rule, and a
/// test user. sudo's timestamp directory gets a tmpfs so no credential cache survives.
struct SudoNamespace {
    let directory: String
    let login: String

    init(in temporary: TemporaryDirectory, login: String, checkScript: String, conf: String, targetFiles: String) throws {
        directory = temporary.file("sudo-ns-\(login)")
        self.login = login
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try files.copyItem(atPath: "/etc/pam.d", toPath: directory + "/pam.d")
        // The shipped service, with the check reading the test's settings file.
        let service = try String(contentsOfFile: targetFiles + "/pam.d/bastion-sudo", encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/sbin/bastion-sudo-check", with: "\(checkScript) \(conf)")
        try service.write(toFile: directory + "/pam.d/bastion-sudo", atomically: true, encoding: .utf8)
        let defaults = try String(contentsOfFile: targetFiles + "/sudoers.d/bastion", encoding: .utf8)
        try write("sudoers", defaults + "Defaults !syslog\nDefaults lecture=never\nroot ALL=(ALL:ALL) ALL\n\(login) ALL=(ALL:ALL) NOPASSWD: ALL\n", mode: 0o440)
        let uid = 61_000 + Int.random(in: 0..<3_000)
        try write("passwd", try String(contentsOfFile: "/etc/passwd", encoding: .utf8) + "\(login):x:\(uid):\(uid)::/nonexistent:/bin/sh\n", mode: 0o644)
        try write("shadow", try String(contentsOfFile: "/etc/shadow", encoding: .utf8) + "\(login):!:19000::::::\n", mode: 0o640)
        try write("group", try String(contentsOfFile: "/etc/group", encoding: .utf8) + "\(login):x:\(uid):\n", mode: 0o644)
        try write("inner.sh", """
        set -e
        mount --make-rprivate /
        mount --bind \(directory)/pam.d /etc/pam.d
        mount --bind \(directory)/sudoers /etc/sudoers
        mount --bind \(directory)/passwd /etc/passwd
        mount --bind \(directory)/shadow /etc/shadow
        mount --bind \(directory)/group /etc/group
        if [ -d /run/sudo ]; then mount -t tmpfs tmpfs /run/sudo; fi
        set +e
        cd /
        runuser -u \(login) -- "$@"
        echo "SUDO-EXIT=$?"

        """, mode: 0o755)
    }

    /// Runs `command` (split on spaces) as the test user inside a fresh namespace; stdout ends
    /// with `SUDO-EXIT=<status of the command>`.
    func run(_ command: String, timeout: TimeInterval = 60) async throws -> ProcessRunner.Result {
        var result = try await ProcessRunner.run(
            "unshare", ["-m", "--propagation", "private", "sh", directory + "/inner.sh"] + command.split(separator: " ").map(String.init),
            timeout: timeout
        )
        if let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("SUDO-EXIT=") }), line != "SUDO-EXIT=0" {
            result.status = result.status == 0 ? 1 : result.status
        }
        return result
    }

    private func write(_ name: String, _ text: String, mode: Int) throws {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
