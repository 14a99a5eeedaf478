import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// The shipped target side (Config/target/) against a real bastiond: the sudo check run by
/// pam_exec under pamtester, then real sudo in a private mount namespace. The tests write
/// PAM service files of their own and remove them; the host's sudo is never changed.
@Suite("SudoCheck (pamtester, sudo)", .serialized)
struct SudoCheckIntegrationTests {
    static let config = """
    [roles.ops]
    targets = ["web*"]
    logins = ["deploy"]
    elevated_logins = ["root"]
    max_cert_ttl = "1h"
    [roles.approver]
    approve_targets = ["*"]
    approve_logins = ["root"]
    max_cert_ttl = "1h"
    [targets.web01]
    address = "127.0.0.1:22"
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
    """

    /// Config/target/ of this checkout.
    static let targetFiles = BastiondBinary.checkout.appendingPathComponent("Config/target").path
    static let checkScript = targetFiles + "/bastion-sudo-check"

    /// A unix login that exists nowhere on this host, valid as a Bastion user name too.
    static func freshLogin() -> String {
        "bsudo" + String((0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement()! })
    }

    /// Writes the check's settings file (what `bastiond target token` prints).
    static func writeConf(_ harness: BastionHarness, port: Int? = nil, token: String? = nil, wait: Int) throws -> String {
        let target = try #require(harness.environment.configuration.policy.targets["web01"])
        let path = harness.directory.file("sudo-check-\(UUID().uuidString).conf")
        let text = """
        BASTION_URL=http://127.0.0.1:\(port ?? harness.endpoints.httpPort)
        TARGET=web01
        TOKEN=\(token ?? harness.environment.targetTokens.token(for: target))
        WAIT=\(wait)

        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `pamtester SERVICE LOGIN acct_mgmt` with a service whose account stage is the
    /// shipped check reading `conf`; the service file is removed whatever happens.
    static func pamtester(login: String, conf: String, timeout: TimeInterval = 60) async throws -> ProcessRunner.Result {
        let service = "bastion-test-\(UUID().uuidString.prefix(8).lowercased())"
        let path = "/etc/pam.d/" + service
        try "account required pam_exec.so quiet stdout seteuid \(checkScript) \(conf)\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await ProcessRunner.run("pamtester", [service, login, "acct_mgmt"], timeout: timeout)
    }

    /// The pending request `login` filed, once it shows up (the check files it on its first call).
    static func pendingRequest(of login: String, in harness: BastionHarness, context: String = "") async throws -> ElevationRequest {
        let service = harness.environment.elevation(audit: harness.environment.auditLog)
        for _ in 0..<200 {
            if let request = try service.requests(of: try #require(UserName(login))).first(where: { $0.state == .requested }) {
                return request
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError(message: "no request from \(login) arrived \(context)")
    }

    static func decide(_ request: ElevationRequest, approve: Bool, by approver: Engineer, in harness: BastionHarness) async throws {
        let service = harness.environment.elevation(audit: harness.environment.auditLog)
        let result = service.decide(
            id: request.id, approve: approve, approver: try #require(UserName(approver.name)), proof: .totp(try await approver.currentCode()),
            comment: approve ? "go ahead" : "not now", caller: .init(actor: .init(user: approver.name, method: "test"), via: "web")
        )
        _ = try result.get()
    }

    @Test func approvalWhileTheCheckWaitsLetsSudoThroughThenTheGrantAllowsAtOnce() async throws {
        try await withBastion(extraConfig: Self.config) { harness in
            let login = Self.freshLogin()
            _ = try await harness.enroll(login, roles: ["ops"])
            let approver = try await harness.enroll("approver", roles: ["approver"])
            let conf = try Self.writeConf(harness, wait: 60)

            async let waiting = Self.pamtester(login: login, conf: conf)
            let request = try await Self.pendingRequest(of: login, in: harness)
            #expect(request.origin == "sudo" && request.login == "root" && request.reason.hasPrefix("sudo: ") && request.reason.contains("pamtester bastion-test-"), "\(request.reason)")
            try await Self.decide(request, approve: true, by: approver, in: harness)
            let result = try await waiting
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("waiting for approval of request \(request.id) by a second engineer"), "\(result)")

            let started = Date()
            let again = try await Self.pamtester(login: login, conf: conf)
            #expect(again.status == 0, "\(again)")
            // The grant answers at once: no new request, no wait (the bound is half the check's wait).
            #expect(!again.stdout.contains("waiting for approval"), "\(again)")
            #expect(Date().timeIntervalSince(started) < 30)

            let decisions = try harness.auditRecords("elevation.sudo").compactMap { ($0["details"] as? [String: Any])?["decision"] as? String }
            #expect(decisions.first == "pending" && decisions.suffix(2) == ["allow", "allow"])
        }
    }

    @Test func aDenyWhileTheCheckWaitsRefusesSudo() async throws {
        try await withBastion(extraConfig: Self.config) { harness in
            let login = Self.freshLogin()
            _ = try await harness.enroll(login, roles: ["ops"])
            let approver = try await harness.enroll("approver", roles: ["approver"])
            let conf = try Self.writeConf(harness, wait: 60)

            async let waiting = Self.pamtester(login: login, conf: conf)
            let request = try await Self.pendingRequest(of: login, in: harness)
            try await Self.decide(request, approve: false, by: approver, in: harness)
            let result = try await waiting
            #expect(result.status != 0, "\(result)")
            #expect(result.stdout.contains("denied by approver"), "\(result)")
        }
    }

    @Test func aWrongTokenFailsAndIsAudited() async throws {
        try await withBastion(extraConfig: Self.config) { harness in
            let login = Self.freshLogin()
            _ = try await harness.enroll(login, roles: ["ops"])
            let conf = try Self.writeConf(harness, token: "not-the-token", wait: 10)
            let result = try await Self.pamtester(login: login, conf: conf)
            #expect(result.status != 0, "\(result)")
            let refusals = try harness.auditRecords("elevation.refused")
            #expect(refusals.contains { $0["reason"] as? String == "wrong target token" })
            #expect(try harness.environment.elevation(audit: harness.environment.auditLog).requests(of: try #require(UserName(login))).isEmpty)
        }
    }

    @Test func bastionUnreachableFailsClosed() async throws {
        try await withBastion(extraConfig: Self.config) { harness in
            let login = Self.freshLogin()
            _ = try await harness.enroll(login, roles: ["ops"])
            let dead = try RefusingPort()
            let conf = try Self.writeConf(harness, port: dead.port, wait: 10)
            let result = try await Self.pamtester(login: login, conf: conf)
            #expect(result.status != 0, "\(result)")
            #expect(result.stdout.contains("unreachable"), "\(result)")
            withExtendedLifetime(dead) {}
        }
    }

    @Test func noDecisionWithinWaitFails() async throws {
        try await withBastion(extraConfig: Self.config) { harness in
            let login = Self.freshLogin()
            _ = try await harness.enroll(login, roles: ["ops"])
            let conf = try Self.writeConf(harness, wait: 3)
            let started = Date()
            let result = try await Self.pamtester(login: login, conf: conf, timeout: 30)
            let elapsed = Date().timeIntervalSince(started)
            #expect(result.status != 0, "\(result)")
            #expect(!result.timedOut)
            #expect(result.stdout.contains("no decision"), "\(result)")
            #expect(elapsed >= 3 && elapsed < 20)
        }
    }

    /// Real sudo, configured with the shipped pam.d and sudoers files, in a private mount
    /// namespace where copies of /etc/pam.d, /etc/sudoers and the user databases (with a test
    /// user added) are bind-mounted over the real ones: nothing reaches the host's /etc.
    @Test func realSudoIsRefusedWithoutAGrantAndAllowedWithOne() async throws {
        try await withBastion(extraConfig: Self.config) { harness in
            let login = Self.freshLogin()
            _ = try await harness.enroll(login, roles: ["ops"])
            let approver = try await harness.enroll("approver", roles: ["approver"])
            let conf = try Self.writeConf(harness, wait: 2)
            let root = try SudoNamespace(in: harness.directory, login: login, checkScript: Self.checkScript, conf: conf, targetFiles: Self.targetFiles)

            let refused = try await root.run("sudo -n true")
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.stdout.contains("SUDO-EXIT=") && !refused.stdout.contains("SUDO-EXIT=0"), "\(refused)")

            let request = try await Self.pendingRequest(of: login, in: harness, context: "\(refused)")
            #expect(request.reason == "sudo: sudo -n true")
            try await Self.decide(request, approve: true, by: approver, in: harness)
            let allowed = try await root.run("sudo -n id -u")
            #expect(allowed.stdout.contains("SUDO-EXIT=0"), "\(allowed)")
            #expect(allowed.stdout.contains("0\n"), "\(allowed)")

            #expect(!(try String(contentsOfFile: "/etc/passwd", encoding: .utf8)).contains(login))
            #expect(!FileManager.default.fileExists(atPath: "/etc/pam.d/bastion-sudo"))
        }
    }
}
