import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// The auditors' web view over real HTTP (curl with a cookie jar) and in headless Chromium,
/// against a session recorded through the relay to a real sshd.
@Suite("Web view")
struct WebViewTests {
    /// An auditor role (the harness's own `auditor` role has no `audit = true`).
    static let roles = "[roles.inspector]\naudit = true\n"

    /// The package's `Web` directory; `Web/vendor` is fetched by the same script `make test` runs.
    static func assets() async throws -> String {
        let repository = BastiondBinary.checkout.path
        let web = repository + "/Web"
        if !FileManager.default.fileExists(atPath: web + "/vendor/asciinema-player.js") {
            let fetched = try await ProcessRunner.run(repository + "/Scripts/fetch-web-assets", [web + "/vendor"], timeout: 180)
            guard fetched.status == 0 else { throw HarnessError(message: "Scripts/fetch-web-assets failed: \(fetched)") }
        }
        return web
    }

    struct Page {
        var status: Int
        var headers: String
        var body: String

        /// A response header's value (first of that name), without the CR.
        func header(_ name: String) -> String? {
            for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix(name.lowercased() + ":") {
                return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
            }
            return nil
        }
    }

    /// curl without following redirects; `jar` keeps cookies between calls (`-c`/`-b`).
    static func fetch(_ url: String, jar: String?, post: Bool = false, cookie: String? = nil, in directory: TemporaryDirectory) async throws -> Page {
        let headers = directory.file("headers-\(UUID().uuidString)")
        var arguments = ["-s", "-D", headers, "-o", "-", "-w", "\n%{http_code}"]
        if let jar { arguments += ["-c", jar, "-b", jar] }
        if let cookie { arguments += ["-H", "Cookie: \(cookie)"] }
        if post { arguments += ["-X", "POST", "-d", ""] }
        arguments.append(url)
        let result = try await ProcessRunner.run("curl", arguments)
        let status = Int(result.stdout.split(separator: "\n").last ?? "") ?? 0
        let body = String(result.stdout.dropLast(String(status).count + 1))
        return Page(status: status, headers: (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "", body: body)
    }

    /// The token of the first sign-in link in `text`.
    static func token(in text: String) -> String? {
        text.firstMatch(of: /\/signin\/([A-Za-z0-9_-]{43})/).map { String($0.1) }
    }

    @Test("an auditor signs in with the link from ssh … web, lists, filters, replays and downloads; everything audited")
    func auditorFlow() async throws {
        let web = try await Self.assets()
        try await withRelay(extraConfig: Self.roles, configure: { $0.http.assetsDirectory = web }) { harness, _ in
            let alice = try await harness.enroll("alice", roles: ["ops"])
            let carol = try await harness.enroll("carol", roles: ["inspector"])
            let bob = try await harness.enroll("bob", roles: ["ops"])
            try await alice.fetchCertificate()
            let ran = try await alice.ssh(["echo webview-proof-\("42")"], user: "root@web01", useCertificate: true)
            #expect(ran.status == 0 && ran.stdout.contains("webview-proof-42"), "\(ran)")
            let id = try #require(try await harness.auditDetails("session.end").first?["session_id"])
            let base = "http://127.0.0.1:\(harness.endpoints.httpPort)"
            let jar = harness.directory.file("jar")

            // Not signed in: every page sends the browser to the sign-in help.
            let anonymous = try await Self.fetch(base + "/sessions", jar: nil, in: harness.directory)
            #expect(anonymous.status == 303 && anonymous.header("location") == "/signin")
            let help = try await Self.fetch(base + "/signin", jar: nil, in: harness.directory)
            #expect(help.status == 200 && help.body.contains("you@127.0.0.1 web"), "\(help.body)")

            // Non-auditors get no link.
            harness.clock.advance(by: 30)
            let refused = try await bob.ssh(["web"])
            #expect(refused.status != 0 && refused.stderr.contains("for auditors only"), "\(refused)")

            let issued = try await carol.ssh(["web"])
            #expect(issued.status == 0 && issued.stdout.contains("http://127.0.0.1:8080/signin/"), "\(issued)")
            let token = try #require(Self.token(in: issued.stdout), "\(issued)")
            #expect(try harness.auditRecords("web.signin_link").count == 1)
            #expect(!(try harness.auditRecords("web.signin_link").description.contains(token)), "the link is never audited")

            let signIn = try await Self.fetch(base + "/signin/" + token, jar: jar, in: harness.directory)
            #expect(signIn.status == 303 && signIn.header("location") == "/sessions")
            let cookie = try #require(signIn.header("set-cookie"))
            #expect(cookie.hasPrefix("bastion_session=") && cookie.contains("; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800"), "\(cookie)")
            #expect(!cookie.contains("Secure"), "public_url is http")
            let cookieValue = String(cookie.prefix { $0 != ";" })
            let again = try await Self.fetch(base + "/signin/" + token, jar: nil, in: harness.directory)
            #expect(again.status == 410 && again.body.contains("already used"))

            // The list, with its filters.
            let list = try await Self.fetch(base + "/sessions", jar: jar, in: harness.directory)
            #expect(list.status == 200 && list.body.contains("href=\"/sessions/\(id)\"") && list.body.contains("root@web01"), "\(list.body)")
            #expect(list.body.contains("signed in as <b>carol</b>") && list.body.contains("action=\"/signout\""))
            let headers = list.headers.lowercased()
            #expect(headers.contains("cache-control: no-store") && headers.contains("referrer-policy: no-referrer") && headers.contains("x-content-type-options: nosniff"))
            #expect(headers.contains("content-security-policy: default-src 'none'; script-src 'self'") && headers.contains("frame-ancestors 'none'"))
            for (query, shows) in [
                ("user=alice&target=web01", true), ("user=bob", false), ("target=db01", false), ("grep=webview-proof-42", true),
                ("grep=never+printed+this", false), ("since=1d", true), ("until=2000-01-01", false), ("since=2000-01-01&user=alice", true),
            ] {
                let filtered = try await Self.fetch(base + "/sessions?" + query, jar: jar, in: harness.directory)
                #expect(filtered.status == 200 && filtered.body.contains("/sessions/\(id)\"") == shows, "\(query): \(filtered.body)")
            }
            let bad = try await Self.fetch(base + "/sessions?since=yesterday-ish", jar: jar, in: harness.directory)
            #expect(bad.status == 400 && bad.body.contains("Invalid since"))

            // The player page and the cast it plays.
            let player = try await Self.fetch(base + "/sessions/\(id)", jar: jar, in: harness.directory)
            #expect(player.status == 200 && player.body.contains("data-cast=\"/sessions/\(id)/cast\""), "\(player.body)")
            #expect(player.body.contains("<script src=\"/assets/asciinema-player.js\"") && player.body.contains("/assets/player-page.js"))
            #expect(!player.body.contains("<script>"), "no inline script")
            let cast = try await Self.fetch(base + "/sessions/\(id)/cast", jar: jar, in: harness.directory)
            #expect(cast.status == 200 && cast.header("content-type") == "application/x-asciicast")
            #expect(cast.body.hasPrefix("{") && cast.body.contains("\"version\""), "\(cast.body.prefix(200))")
            #expect(cast.body.contains("webview-proof-42"))
            let missing = try await Self.fetch(base + "/sessions/nosuchsession", jar: jar, in: harness.directory)
            #expect(missing.status == 404)
            for (asset, type) in [("asciinema-player.js", "text/javascript"), ("asciinema-player.css", "text/css"), ("player-page.js", "text/javascript")] {
                let served = try await Self.fetch(base + "/assets/" + asset, jar: nil, in: harness.directory)
                #expect(served.status == 200 && (served.header("content-type") ?? "").hasPrefix(type), "\(asset)")
            }
            #expect(try await Self.fetch(base + "/assets/bastion.sqlite", jar: nil, in: harness.directory).status == 404)

            // In a real browser: the sign-in link's redirect lands on the player, which plays.
            let issuer = WebSessions(
                store: harness.environment.webSessions, users: harness.environment.users, policy: harness.environment.configuration.policy,
                audit: harness.environment.auditLog, clock: harness.clock, publicURL: base
            )
            let carolUser = try #require(try harness.environment.users.user(named: UserName("carol")!))
            let chromium = { (name: String) in ["--user-data-dir=\(harness.directory.file("chromium-\(name)"))", "--virtual-time-budget=5000"] }
            let domLink = try issuer.signInLink(for: carolUser, connection: nil) + "?next=/sessions/\(id)"
            let dom = try await HeadlessBrowser.dom(domLink, arguments: chromium("dom"))
            // The page itself never prints the session's output: finding it in the DOM means the
            // player fetched the cast and its (WebAssembly) terminal drew the poster frame.
            #expect(dom.contains("class=\"ap-player") && dom.contains("class=\"ap-line") && dom.contains("webview-proof-42"), "\(dom.prefix(3000))")
            let shotLink = try issuer.signInLink(for: carolUser, connection: nil) + "?next=/sessions/\(id)"
            let shot = try await HeadlessBrowser.screenshot(shotLink, to: harness.directory.file("player.png"), arguments: chromium("shot"))
            let plain = try await HeadlessBrowser.screenshot(base + "/signin", to: harness.directory.file("signin.png"), arguments: chromium("plain"))
            #expect(shot.width == 1000 && shot.ink > 0.3 && shot.colours > plain.colours, "player \(shot), plain \(plain)")

            // A link works for one minute; a non-auditor's link (role lost since) is refused.
            let late = try #require(Self.token(in: try issuer.signInLink(for: carolUser, connection: nil)))
            harness.clock.advance(by: 61)
            let expired = try await Self.fetch(base + "/signin/" + late, jar: nil, in: harness.directory)
            #expect(expired.status == 410 && expired.body.contains("expired"))
            let bobUser = try #require(try harness.environment.users.user(named: UserName("bob")!))
            let bobToken = try #require(Self.token(in: try issuer.signInLink(for: bobUser, connection: nil)))
            let bobJar = harness.directory.file("bob-jar")
            let notAuditor = try await Self.fetch(base + "/signin/" + bobToken, jar: bobJar, in: harness.directory)
            #expect(notAuditor.status == 403 && notAuditor.header("set-cookie") == nil)
            #expect(try await Self.fetch(base + "/signin/AAAA", jar: nil, in: harness.directory).status == 403)

            // A tampered recording is refused, page and file.
            let recording = try #require(try await harness.auditDetails("session.end").first?["recording"])
            let handle = try #require(FileHandle(forWritingAtPath: recording))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("[9.9, \"o\", \"forged\"]\n".utf8))
            try handle.close()
            let tampered = try await Self.fetch(base + "/sessions/\(id)", jar: jar, in: harness.directory)
            #expect(tampered.status == 409 && tampered.body.contains("does not match its audit record") && !tampered.body.contains("data-cast"))
            #expect(try await Self.fetch(base + "/sessions/\(id)/cast", jar: jar, in: harness.directory).status == 409)

            // Sign out: the cookie is expired and its session gone for good.
            let out = try await Self.fetch(base + "/signout", jar: jar, post: true, in: harness.directory)
            #expect(out.status == 303 && out.header("location") == "/signin" && (out.header("set-cookie") ?? "").contains("Max-Age=0"))
            let replayed = try await Self.fetch(base + "/sessions", jar: nil, cookie: cookieValue, in: harness.directory)
            #expect(replayed.status == 303)

            // Access is re-checked on every request: locking the auditor ends their session.
            let lockJar = harness.directory.file("lock-jar")
            let lockToken = try #require(Self.token(in: try issuer.signInLink(for: carolUser, connection: nil)))
            #expect(try await Self.fetch(base + "/signin/" + lockToken, jar: lockJar, in: harness.directory).status == 303)
            #expect(try await Self.fetch(base + "/sessions", jar: lockJar, in: harness.directory).status == 200)
            _ = try harness.environment.users.setLocked(true, for: UserName("carol")!)
            #expect(try await Self.fetch(base + "/sessions", jar: lockJar, in: harness.directory).status == 303)

            // The audit trail.
            func details(_ type: String) throws -> [[String: String]] { try harness.auditRecords(type).map { $0["details"] as? [String: String] ?? [:] } }
            #expect(try harness.auditRecords("web.signin").count == 4)
            #expect(try harness.auditRecords("web.signout").count == 1)
            let searches = try details("session.search").filter { $0["via"] == "web" }
            #expect(searches.count >= 10 && searches.contains { $0["query"] == "user=alice target=web01" && $0["results"] == "1" })
            #expect(try details("session.replay").contains { $0["via"] == "web" && $0["session_id"] == id })
            #expect(try details("session.export").contains { $0["via"] == "web" && $0["session_id"] == id })
            let integrity = try harness.auditRecords("recording.integrity")
            #expect(integrity.count == 2 && (integrity.first?["reason"] as? String ?? "").contains("does not match"))
            let reasons = try harness.auditRecords("web.refused").compactMap { $0["reason"] as? String }
            for expected in ["sign-in link already used", "sign-in link expired", "not an auditor", "sign-in link is not valid", "user is locked"] {
                #expect(reasons.contains(expected), "\(expected) not in \(reasons)")
            }
            #expect(try harness.auditRecords("web.refused").allSatisfy { ($0["details"] as? [String: String])?["path"]?.contains(token) != true })
        }
    }
}
