import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// The approval page over real HTTP (curl), as an approver reaches it from the chat link.
@Suite("Approval page")
struct ApprovalPageTests {
    struct Page {
        var status: Int
        var headers: String
        var body: String
    }

    /// `curl` GET or POST (form fields) to `url`; the status, headers and body.
    func fetch(_ url: String, form: [String: String]? = nil, in directory: TemporaryDirectory) async throws -> Page {
        let headers = directory.file("headers-\(UUID().uuidString)")
        var arguments = ["-s", "-D", headers, "-o", "-", "-w", "\n%{http_code}"]
        for (key, value) in (form ?? [:]).sorted(by: { $0.key < $1.key }) { arguments += ["--data-urlencode", "\(key)=\(value)"] }
        arguments.append(url)
        let result = try await ProcessRunner.run("curl", arguments)
        let status = Int(result.stdout.split(separator: "\n").last ?? "") ?? 0
        let body = String(result.stdout.dropLast(String(status).count + 1))
        return Page(status: status, headers: (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "", body: body)
    }

    @Test("GET shows the request; self-approval, wrong code and forged links refused; a fresh code approves once")
    func approveThroughThePage() async throws {
        try await withRelay(extraConfig: ElevationTests.roles) { harness, _ in
            let alice = try await harness.enroll("alice", roles: ["sre"])
            let bob = try await harness.enroll("bob", roles: ["lead"])
            try await alice.fetchCertificate()
            let filed = try await alice.ssh(["elevate web01 --reason rotate the TLS <cert> & restart --no-wait"], useCertificate: true)
            let id = try #require(filed.stdout.firstMatch(of: /request ([0-9a-f]{8})/).map { String($0.1) }, "\(filed)")
            let elevation = harness.environment.elevation(audit: harness.environment.auditLog)
            let base = "http://127.0.0.1:\(harness.endpoints.httpPort)"
            let url = base + "/approve/" + elevation.links.token(for: ElevationID(rawValue: id))

            let page = try await fetch(url, in: harness.directory)
            #expect(page.status == 200)
            #expect(page.body.contains("<td>alice</td>") && page.body.contains("<td>web01</td>") && page.body.contains("<td>root</td>"))
            #expect(page.body.contains("rotate the TLS &lt;cert&gt; &amp; restart"), "the reason is escaped")
            #expect(page.body.contains(#"name="code""#) && page.body.contains(#"value="approve""#))
            let headers = page.headers.lowercased()
            #expect(headers.contains("cache-control: no-store") && headers.contains("referrer-policy: no-referrer"))
            #expect(headers.contains("content-security-policy: default-src 'none'"))

            // Rendered by a real browser: a non-blank page with the form's colours (green and red buttons).
            let shot = try await HeadlessBrowser.screenshot(url, to: harness.directory.file("approval.png"))
            #expect(shot.width == 1000 && shot.colours > 20 && shot.ink > 0.01, "\(shot)")
            #expect(try elevation.request(id: ElevationID(rawValue: id))?.state == .requested, "looking at the page decides nothing")

            harness.clock.advance(by: 30)
            let own = try await fetch(url, form: ["username": "alice", "code": try await alice.currentCode(), "decision": "approve"], in: harness.directory)
            #expect(own.status == 403 && own.body.contains("You cannot decide your own request"), "\(own.body)")
            let wrong = try await fetch(url, form: ["username": "bob", "code": "000001", "decision": "approve"], in: harness.directory)
            #expect(wrong.status == 403 && wrong.body.contains("Not accepted: check your user name and code."))
            let nobody = try await fetch(url, form: ["username": "Robert'); --", "code": "123456", "decision": "approve"], in: harness.directory)
            #expect(nobody.status == 403 && nobody.body.contains("Not accepted: check your user name and code."))
            let forged = try await fetch(base + "/approve/\(id).AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", in: harness.directory)
            #expect(forged.status == 404)

            harness.clock.advance(by: 30)
            let approved = try await fetch(
                url, form: ["username": "bob", "code": try await bob.currentCode(), "decision": "approve", "comment": "ok from the page"],
                in: harness.directory
            )
            #expect(approved.status == 200 && approved.body.contains("Approved: alice may use root on web01"), "\(approved.body)")
            #expect(try elevation.activeGrant(user: "alice", target: "web01", login: "root") != nil)
            let again = try await fetch(url, in: harness.directory)
            #expect(again.status == 410 && again.body.contains("already used"))
            harness.clock.advance(by: 30)
            let reuse = try await fetch(url, form: ["username": "bob", "code": try await bob.currentCode(), "decision": "deny"], in: harness.directory)
            #expect(reuse.status == 403, "\(reuse.body)")

            let approval = try #require(try harness.auditRecords("elevation.approved").first)
            #expect((approval["details"] as? [String: String])?["via"] == "web")
            #expect((approval["details"] as? [String: String])?["comment"] == "ok from the page")
            let reasons = try harness.auditRecords("elevation.refused").compactMap { $0["reason"] as? String }
            for expected in ["you cannot decide your own request", "wrong TOTP code", "unknown user", "approval link is not valid", "already used"] {
                #expect(reasons.contains { $0.contains(expected) }, "\(expected) not in \(reasons)")
            }
        }
    }

    @Test("a link dies with its request: expired requests show their state and take no decision")
    func expiredLink() async throws {
        try await withRelay(extraConfig: ElevationTests.roles) { harness, _ in
            let alice = try await harness.enroll("alice", roles: ["sre"])
            let bob = try await harness.enroll("bob", roles: ["lead"])
            let user = try #require(try harness.environment.users.user(named: UserName("alice")!))
            let elevation = harness.environment.elevation(audit: harness.environment.auditLog)
            let (request, _) = try elevation.request(
                by: user, target: "web01", login: nil, reason: "late", duration: nil, origin: "ssh",
                caller: .init(actor: .init(user: "alice"), via: "ssh")
            ).get()
            _ = alice
            harness.clock.advance(by: 16 * 60)
            let url = "http://127.0.0.1:\(harness.endpoints.httpPort)/approve/" + elevation.links.token(for: request.id)
            let page = try await fetch(url, in: harness.directory)
            #expect(page.status == 410 && page.body.contains("is expired"), "\(page.body)")
            let post = try await fetch(url, form: ["username": "bob", "code": try await bob.currentCode(), "decision": "approve"], in: harness.directory)
            #expect(post.status == 403)
            #expect(try elevation.request(id: request.id)?.state == .expired)
        }
    }
}
