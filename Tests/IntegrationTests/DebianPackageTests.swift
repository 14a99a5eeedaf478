import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The Debian package (`make deb`, Scripts/build-deb) as dpkg, lintian, systemd and an
/// operator see it, built from the release binary `make test` links with the Swift runtime
/// inside. Nothing is installed on this host: the package is read with dpkg-deb and run
/// from an extracted copy.
@Suite("Debian package")
struct DebianPackageTests {
    /// One test, because building the package (xz over 87 MB) is most of its time.
    @Test("the package: files, control, lintian, unit score; run as nobody it certifies; installed, removed, purged it keeps the data")
    func debianPackage() async throws {
        let package = try await DebianPackage.build()
        try await checkArchive(package)
        try await checkExtractedRun(package)
        try await checkInstalled(package)
    }

    /// Files, control fields, conffile, maintainer scripts, lintian, and the unit's exposure score.
    private func checkArchive(_ package: DebianPackage) async throws {
        // Contents: what goes where, root's, and nothing under /var/lib/bastion (dpkg must
        // never own, and so never remove, the data).
        let listing = try await package.run("dpkg-deb", ["-c", package.deb])
        let entries = Dictionary(listing.stdout.split(separator: "\n").compactMap { line -> (String, (String, String))? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6 else { return nil }
            return (String(fields[5]), (String(fields[0]), String(fields[1])))
        }) { first, _ in first }
        let expected: [String: String] = [
            "./usr/sbin/bastiond": "-rwxr-xr-x", "./etc/bastion/bastiond.toml": "-rw-r--r--",
            "./lib/systemd/system/bastiond.service": "-rw-r--r--", "./usr/share/bastion/web/player-page.js": "-rw-r--r--",
            "./usr/share/bastion/web/vendor/asciinema-player.js": "-rw-r--r--",
            "./usr/share/bastion/web/vendor/asciinema-player.css": "-rw-r--r--", "./usr/share/doc/bastiond/copyright": "-rw-r--r--",
            "./usr/share/doc/bastiond/changelog.gz": "-rw-r--r--", "./usr/share/man/man8/bastiond.8.gz": "-rw-r--r--",
            "./usr/share/lintian/overrides/bastiond": "-rw-r--r--",
        ]
        for (path, mode) in expected {
            #expect(entries[path]?.0 == mode, "\(path) in \(listing.stdout)")
        }
        #expect(entries.values.allSatisfy { $0.1 == "root/root" }, "\(listing.stdout)")
        #expect(!entries.keys.contains { $0.hasPrefix("./var/") }, "\(listing.stdout)")

        // Control fields.
        func field(_ name: String) async throws -> String {
            try await package.run("dpkg-deb", ["-f", package.deb, name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try await field("Package") == "bastiond")
        #expect(try await field("Version") == package.version)
        #expect(try await field("Architecture") == "amd64")
        let depends = try await field("Depends").components(separatedBy: ", ")
        for library in ["adduser", "libssh-4", "libssl3", "libsqlite3-0", "libqrencode4", "libpq5", "libc6"] {
            #expect(depends.contains { $0 == library || $0.hasPrefix(library + " (>= ") }, "\(library) in \(depends)")
        }
        // Each library dependency is at least the version installed here, the one the tests ran against.
        for dependency in depends where dependency != "adduser" {
            let parts = try #require(dependency.wholeMatch(of: /(\S+) \(>= (\S+)\)/), "\(dependency)")
            let installed = try await package.run("dpkg-query", ["-W", "-f=${Version}", String(parts.1)]).stdout
            #expect(String(parts.2) == installed, "\(dependency): installed \(installed)")
        }
        // The binary needs no library outside those packages: none from a Swift toolchain.
        let linked = try await package.run("ldd", [package.root + "/usr/sbin/bastiond"])
        #expect(linked.status == 0, "\(linked)")
        #expect(!linked.stdout.contains("not found") && !linked.stdout.contains("/opt/swift"), "\(linked.stdout)")
        #expect(linked.stdout.firstMatch(of: /lib(swift|Foundation|dispatch|BlocksRuntime)/) == nil, "\(linked.stdout)")

        // The conffile, and maintainer scripts that never delete data, recordings or the user.
        #expect(try String(contentsOfFile: package.control + "/conffiles", encoding: .utf8) == "/etc/bastion/bastiond.toml\n")
        let postinst = try String(contentsOfFile: package.control + "/postinst", encoding: .utf8)
        #expect(postinst.contains("adduser --quiet --system --group --home \"$DATA\""), "\(postinst)")
        for line in ["own bastion bastion 0700 \"$DATA\"", "own bastion bastion 0700 \"$DATA/recordings\"", "own root bastion 0640 \"$CONFIG\""] {
            #expect(postinst.contains(line), "postinst lacks \(line)")
        }
        for script in ["postinst", "prerm", "postrm"] {
            let text = try String(contentsOfFile: package.control + "/" + script, encoding: .utf8)
            let code = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }.joined(separator: "\n")
            #expect(code.firstMatch(of: /(^|[\s;|&(`])(rm|rmdir|unlink|shred|deluser|userdel|delgroup|groupdel)(\s|$)|-delete\b/) == nil,
                    "\(script) deletes something:\n\(code)")
            let checked = try await package.run("sh", ["-n", package.control + "/" + script])
            #expect(checked.status == 0, "\(script): \(checked)")
        }

        // lintian: no error and no warning (its remaining notes and the one override: docs/operations.md).
        let lint = try await package.run("lintian", ["--fail-on", "error,warning", "--tag-display-limit", "0", package.deb], timeout: 600)
        #expect(lint.status == 0, "\(lint)")

        // The packaged unit: systemd reads it without complaint, and it is at least as tight as
        // the score its header promises.
        let unit = package.root + "/lib/systemd/system/bastiond.service"
        // (Nothing is installed, so the one complaint allowed is that /usr/sbin/bastiond is missing.)
        let verified = try await package.run("systemd-analyze", ["verify", "--man=no", unit])
        let complaints = verified.stderr.split(separator: "\n").filter { !$0.hasSuffix("Command /usr/sbin/bastiond is not executable: No such file or directory") }
        #expect(complaints.isEmpty, "\(verified)")
        let promised = try #require(try String(contentsOfFile: unit, encoding: .utf8).firstMatch(of: /# exposure-score: (\d+\.\d)/)
            .flatMap { Double($0.1) })
        let security = try await package.run("systemd-analyze", ["security", "--offline=yes", "--no-pager", unit])
        let measured = try #require(security.stdout.firstMatch(of: /Overall exposure level for bastiond\.service: (\d+\.\d)/)
            .flatMap { Double($0.1) }, "\(security)")
        #expect(measured <= promised, "exposure \(measured), header promises \(promised)")
    }

    /// The extracted bastiond, run as nobody with the packaged config (its paths redirected
    /// here): a user enrolled with the admin command, a certificate issued over ssh with TOTP.
    private func checkExtractedRun(_ package: DebianPackage) async throws {
        try #require(getuid() == 0, "runs bastiond as nobody, which takes root (CI runs make test as root)")
        let bastiond = package.root + "/usr/sbin/bastiond"

        // The packaged configuration, its production paths redirected into this test's directory.
        var config = try String(contentsOfFile: package.root + "/etc/bastion/bastiond.toml", encoding: .utf8)
        let state = package.directory.file("state")
        let replacements = [
            "data_dir = \"/var/lib/bastion\"": "data_dir = \"\(state)/data\"",
            "dir = \"/var/lib/bastion/recordings\"": "dir = \"\(state)/recordings\"",
            "listen = \"0.0.0.0:2222\"": "listen = \"127.0.0.1:0\"",
            "listen = \"127.0.0.1:8080\"": "listen = \"127.0.0.1:0\"",
            "assets_dir = \"/usr/share/bastion/web\"": "assets_dir = \"\(package.root)/usr/share/bastion/web\"",
        ]
        for (packaged, local) in replacements {
            try #require(config.contains(packaged), "the packaged config lacks \(packaged)")
            config = config.replacingOccurrences(of: packaged, with: local)
        }
        let configPath = package.directory.file("bastiond.toml")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        chmod(configPath, 0o644)
        // The state directory is nobody's, as /var/lib/bastion is bastion's.
        let nobody = try #require(getpwnam("nobody")?.pointee)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(chown(state, nobody.pw_uid, nobody.pw_gid) == 0)

        // The admin commands, as the README tells operators (`sudo -u bastion bastiond …`).
        func asNobody(_ arguments: [String]) -> [String] {
            ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", bastiond] + arguments + ["--config", configPath]
        }
        let key = package.directory.file("alice")
        #expect(try await package.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", key]).status == 0)
        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let added = try await package.run(asNobody(["user", "add", "alice", "--key", publicKey, "--role", "engineer"]))
        try #require(added.status == 0, "\(added)")
        let secret = try #require(added.stdout.firstMatch(of: /secret=([A-Z2-7]+)/)?.1, "\(added)")
        let authorities = try await package.run(asNobody(["ca", "show"]))
        let userCA = try #require(authorities.stdout.split(separator: "\n").first { $0.hasPrefix("ssh-ed25519 ") }, "\(authorities)")

        let log = package.directory.file("serve.log")
        let serve = try SpawnedProcess(asNobody(["serve"]), stderr: .file(log))
        defer { serve.signal(SIGKILL) }
        func printed() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try #require(try await relayPoll(timeout: 30) { printed().contains("bastiond ready") || !serve.isRunning }, "\(printed())")
        let sshPort = try #require(printed().firstMatch(of: /ssh=127\.0\.0\.1:(\d+)/)?.1, "\(printed())")
        let httpPort = try #require(printed().firstMatch(of: /http=127\.0\.0\.1:(\d+)/)?.1, "\(printed())")
        // It really runs as nobody, and what it made is nobody's alone.
        let status = try String(contentsOfFile: "/proc/\(serve.pid)/status", encoding: .utf8)
        #expect(status.contains("\nUid:\t\(nobody.pw_uid)\t\(nobody.pw_uid)\t\(nobody.pw_uid)\t\(nobody.pw_uid)\n"), "\(status)")
        for name in ["data", "data/user_ca", "data/master.key", "data/bastion.sqlite"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: state + "/" + name)
            #expect((attributes[.ownerAccountID] as? Int) == Int(nobody.pw_uid), "\(name)")
            #expect(((attributes[.posixPermissions] as? Int) ?? 0) & 0o077 == 0, "\(name) is open to group or others")
        }

        // Key + TOTP buys a certificate signed by the user CA, for alice.
        let askpass = package.directory.file("askpass")
        try Engineer.writeExecutable(askpass, "#!/bin/sh\nexec oathtool --totp -b \(secret)\n")
        let certificate = try await package.run(
            "ssh",
            [
                "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "CertificateFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-p", String(sshPort),
                "alice@127.0.0.1", "cert",
            ],
            environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
        )
        try #require(certificate.status == 0, "\(certificate)\n\(printed())")
        try certificate.stdout.write(toFile: key + "-cert.pub", atomically: true, encoding: .utf8)
        let shown = try await package.run("ssh-keygen", ["-L", "-f", key + "-cert.pub"])
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.stdout.contains("Type: ssh-ed25519-cert-v01@openssh.com user certificate"), "\(shown.stdout)")
        #expect(shown.stdout.firstMatch(of: /Principals: \n\s+alice\n/) != nil, "\(shown.stdout)")
        try userCA.write(toFile: package.directory.file("user_ca.pub"), atomically: true, encoding: .utf8)
        let fingerprint = try await package.run("ssh-keygen", ["-l", "-f", package.directory.file("user_ca.pub")])
        let caFingerprint = try #require(fingerprint.stdout.split(separator: " ").dropFirst().first, "\(fingerprint)")
        #expect(shown.stdout.contains("Signing CA: ED25519 \(caFingerprint)"), "\(shown.stdout)")

        // The web view's player is served from the packaged assets.
        let player = try await package.run("curl", ["-sf", "http://127.0.0.1:\(httpPort)/assets/asciinema-player.js"])
        let shipped = try String(contentsOfFile: package.root + "/usr/share/bastion/web/vendor/asciinema-player.js", encoding: .utf8)
        #expect(player.status == 0 && player.stdout == shipped, "\(player.status)")

        serve.signal(SIGTERM)
        #expect(try await serve.waitForExit(timeout: 20), "bastiond stops on SIGTERM")
        #expect(serve.exitStatus == 0, "\(printed())")
    }
}

extension DebianPackageTests {
    /// dpkg installs, removes and purges the package for real, with its maintainer scripts,
    /// inside a throwaway overlay of / (a tmpfs upper layer in a private mount namespace that
    /// ends with the script): the host's users, /etc and /var are untouched.
    private func checkInstalled(_ package: DebianPackage) async throws {
        try #require(getuid() == 0, "installs into an overlay of /, which takes root (CI runs make test as root)")
        let hostUser = try await package.run("getent", ["passwd", "bastion"]).stdout
        let script = package.directory.file("overlay-install.sh")
        let overlay = package.directory.file("overlay")
        try """
        set -eu
        mount --make-rprivate /
        mkdir -p \(overlay) && mount -t tmpfs tmpfs \(overlay) && mkdir \(overlay)/upper \(overlay)/work \(overlay)/root
        mount -t overlay overlay -o lowerdir=/,upperdir=\(overlay)/upper,workdir=\(overlay)/work \(overlay)/root
        for d in proc sys dev; do mount --rbind /$d \(overlay)/root/$d; done
        exec chroot \(overlay)/root /bin/sh -eu -c '
        export PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive
        state() { echo "$1 user=$(getent passwd bastion | cut -d: -f1,6,7)"; for f in /var/lib/bastion /var/lib/bastion/recordings /var/lib/bastion/user_ca /etc/bastion/bastiond.toml; do echo "$1 $(stat -c "%U:%G:%a" $f 2>/dev/null || echo absent) $f"; done; }
        dpkg -i \(package.deb) >/dev/null
        [ -L /etc/systemd/system/multi-user.target.wants/bastiond.service ] && echo "installed enabled"
        runuser -u bastion -- bastiond ca show --config /etc/bastion/bastiond.toml >/dev/null
        state installed
        dpkg -r bastiond >/dev/null
        state removed
        dpkg -P bastiond
        state purged
        '
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let run = try await package.run("unshare", ["--mount", "--propagation", "private", "sh", script], timeout: 300)
        #expect(run.status == 0, "\(run)")
        let lines = Set(run.stdout.split(separator: "\n").map(String.init))
        // Installed: the user, its directories 0700, the config readable by it alone, the unit
        // enabled, and the admin command run as bastion makes its keys as bastion.
        for line in [
            "installed user=bastion:/var/lib/bastion:/usr/sbin/nologin", "installed enabled",
            "installed bastion:bastion:700 /var/lib/bastion", "installed bastion:bastion:700 /var/lib/bastion/recordings",
            "installed bastion:bastion:600 /var/lib/bastion/user_ca", "installed root:bastion:640 /etc/bastion/bastiond.toml",
        ] {
            #expect(lines.contains(line), "\(line) in \(run)")
        }
        // Removed, then purged: the data, the recordings and the user stay; only the conffile goes.
        for stage in ["removed", "purged"] {
            for line in [
                "\(stage) user=bastion:/var/lib/bastion:/usr/sbin/nologin", "\(stage) bastion:bastion:700 /var/lib/bastion",
                "\(stage) bastion:bastion:700 /var/lib/bastion/recordings", "\(stage) bastion:bastion:600 /var/lib/bastion/user_ca",
            ] {
                #expect(lines.contains(line), "\(line) in \(run)")
            }
        }
        #expect(lines.contains("removed root:bastion:640 /etc/bastion/bastiond.toml"), "\(run)")
        #expect(lines.contains("purged absent /etc/bastion/bastiond.toml"), "\(run)")
        #expect(run.stdout.contains("/var/lib/bastion (database, keys, audit log, recordings) and the bastion user were kept"), "\(run)")
        // And the host saw none of it.
        #expect(try await package.run("getent", ["passwd", "bastion"]).stdout == hostUser)
    }
}

/// A package built by Scripts/build-deb into a directory of its own, and extracted there.
private struct DebianPackage {
    let directory: TemporaryDirectory
    let deb: String
    let version: String
    /// The package's files (`dpkg-deb -x`).
    let root: String
    /// Its control files (`dpkg-deb -e`).
    let control: String

    /// The release binary: BASTION_DEB_BINARY, else `.build/release/bastiond` (`make test`
    /// builds it with `--static-swift-stdlib`; Scripts/build-deb refuses any other kind).
    static func build() async throws -> DebianPackage {
        let repository = BastiondBinary.checkout.path
        let binary = ProcessInfo.processInfo.environment["BASTION_DEB_BINARY"] ?? repository + "/.build/release/bastiond"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw HarnessError(message: "\(binary) is not built: run `make test`, or `swift build -c release --product bastiond --static-swift-stdlib`")
        }
        let directory = try TemporaryDirectory(prefix: "bastion-deb")
        // nobody runs the extracted bastiond: it must reach it through this directory.
        chmod(directory.path, 0o755)
        let built = try await ProcessRunner.run(repository + "/Scripts/build-deb", [binary, directory.file("out")], timeout: 300)
        guard built.status == 0 else { throw HarnessError(message: "Scripts/build-deb failed: \(built)") }
        let deb = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let changelog = try String(contentsOfFile: repository + "/Config/debian/changelog", encoding: .utf8)
        let version = try #require(changelog.firstMatch(of: /^bastiond \(([^)]+)\)/)?.1)
        let package = DebianPackage(
            directory: directory, deb: deb, version: String(version), root: directory.file("root"), control: directory.file("control")
        )
        for (option, target) in [("-x", package.root), ("-e", package.control)] {
            let extracted = try await ProcessRunner.run("dpkg-deb", [option, deb, target])
            guard extracted.status == 0 else { throw HarnessError(message: "dpkg-deb \(option) failed: \(extracted)") }
        }
        #expect(deb.hasSuffix("/bastiond_\(version)_amd64.deb"), "\(deb)")
        return package
    }

    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) async throws
        -> ProcessRunner.Result
    {
        try await ProcessRunner.run(program, arguments, environment: environment, timeout: timeout)
    }

    func run(_ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(arguments[0], Array(arguments.dropFirst()))
    }
}
