import BastionCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// The auditors' read-only web view: sign in with a link from `ssh … web`, list and search
/// recorded sessions, replay one in asciinema-player, take its `.cast` file. Every page is
/// for a signed-in auditor (checked again on every request) and every look is audited, like
/// the same actions over SSH (`via` = `web`).
enum WebRoutes {
    static func register(on router: Router<BastionRequestContext>, context: HTTPRouteContext) {
        let web = WebView(
            sessions: context.webSessions, archive: context.archive, audit: context.audit, clock: context.clock, logger: context.logger,
            assets: context.assetsDirectory, sshPort: context.sshPort, host: context.publicHost, broadcasts: context.broadcasts
        )
        router.get("/signin") { _, _ in html(.ok, WebPage.signInHelp(sshPort: web.sshPort, host: web.host)) }
        router.get("/signin/:token") { request, context in try web.signIn(request, from: context.auditConnection) }
        router.post("/signout") { request, context in try web.signOut(request, from: context.auditConnection) }
        router.get("/sessions") { request, context in try await web.list(request, from: context.auditConnection) }
        router.get("/sessions/:id") { request, context in
            try await web.player(request, id: context.parameters.get("id") ?? "", from: context.auditConnection)
        }
        router.get("/sessions/:id/cast") { request, context in
            try await web.cast(request, id: context.parameters.get("id") ?? "", from: context.auditConnection)
        }
        router.get("/live/:id") { request, context in
            try web.livePage(request, id: context.parameters.get("id") ?? "", from: context.auditConnection)
        }
        router.get("/live/:id/events") { request, context in
            try web.liveEvents(request, id: context.parameters.get("id") ?? "", from: context.auditConnection)
        }
        router.get("/assets/:name") { _, context in try await web.asset(context.parameters.get("name") ?? "") }
    }

    /// Every page: no caching (it shows the archive), no referrer (a sign-in URL is a
    /// capability), no framing, scripts only from this origin. asciinema-player runs its
    /// terminal emulator as WebAssembly (hence `'wasm-unsafe-eval'`) and sets inline styles.
    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff",
    ]

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        + "connect-src 'self'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; form-action 'self'"

    /// Where a sign-in link may send the browser: the list, one session's page or one live
    /// session's, nothing else (never another site, never a path with tricks in it).
    static func safeNext(_ text: String) -> String? {
        text.wholeMatch(of: /\/sessions(\/[A-Za-z0-9_-]{1,64})?|\/live\/[A-Za-z0-9_-]{1,64}/) != nil ? text : nil
    }

    static func html(_ status: HTTPResponse.Status, _ text: String, extra: HTTPFields = [:]) -> Response {
        var headers = pageHeaders
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The handlers, over the services they share (the live ones in `WebView+Live.swift`).
struct WebView: Sendable {
    let sessions: WebSessions
    let archive: any SessionArchive
    let audit: any AuditEmitter
    let clock: any WallClock
    let logger: Logger
    let assets: String
    let sshPort: Int
    let host: String
    let broadcasts: LiveSessionBroadcasts?

    // MARK: Sign-in and sign-out

    func signIn(_ request: Request, from connection: AuditEvent.Connection) throws -> Response {
        let token = request.uri.path.split(separator: "/").last.map(String.init) ?? ""
        // The URL is a capability: audit the path without it.
        switch try sessions.signIn(token: token, path: "/signin/…", connection: connection) {
        case .refused(let gone, let message):
            return WebRoutes.html(gone ? .gone : .forbidden, WebPage.message("Not signed in", detail: message))
        case .signedIn(let cookie, let session):
            let next = FormBody(request.uri.query ?? "")["next"].flatMap(WebRoutes.safeNext) ?? "/sessions"
            let maxAge = Int(session.expiresAt.timeIntervalSince(session.createdAt))
            return redirect(to: next, cookie: "\(WebSessions.cookieName)=\(cookie); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)")
        }
    }

    func signOut(_ request: Request, from connection: AuditEvent.Connection) throws -> Response {
        try sessions.signOut(cookie: request.cookies[WebSessions.cookieName]?.value, connection: connection)
        return redirect(to: "/signin", cookie: "\(WebSessions.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }

    private func redirect(to location: String, cookie: String) -> Response {
        var fields: HTTPFields = [.location: location, .setCookie: cookie + (sessions.secureCookies ? "; Secure" : "")]
        fields.append(contentsOf: WebRoutes.pageHeaders)
        return Response(status: .seeOther, headers: fields)
    }

    /// The signed-in auditor, or the response that turns the request away.
    func auditor(_ request: Request, from connection: AuditEvent.Connection) throws -> Result<(User, WebSession), WebRefusal> {
        switch try sessions.viewer(cookie: request.cookies[WebSessions.cookieName]?.value, path: request.uri.path, connection: connection) {
        case .auditor(let user, let session): return .success((user, session))
        case .signedOut, .refused:
            var fields: HTTPFields = [.location: "/signin"]
            fields.append(contentsOf: WebRoutes.pageHeaders)
            return .failure(WebRefusal(response: Response(status: .seeOther, headers: fields)))
        }
    }

    // MARK: Pages

    func list(_ request: Request, from connection: AuditEvent.Connection) async throws -> Response {
        let (user, session): (User, WebSession)
        switch try auditor(request, from: connection) {
        case .success(let found): (user, session) = found
        case .failure(let refusal): return refusal.response
        }
        let form = FormBody(request.uri.query ?? "")
        let filter = WebPage.Filter(
            user: form["user"] ?? "", target: form["target"] ?? "", since: form["since"] ?? "", until: form["until"] ?? "", grep: form["grep"] ?? ""
        )
        let now = clock.now()
        func field(_ text: String) -> String? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : String(trimmed.prefix(200))
        }
        var query = SessionQuery(user: field(filter.user), target: field(filter.target), grep: field(filter.grep))
        for (text, name) in [(filter.since, "since"), (filter.until, "until")] {
            guard let text = field(text) else { continue }
            guard let date = TimeBound.parse(text, now: now) else {
                let message = "Invalid \(name) '\(text)': use 7d, 2026-11-01 or 2026-11-01T09:00:00Z."
                return WebRoutes.html(.badRequest, WebPage.list([], live: live(), filter: filter, viewer: user.name.rawValue, message: message))
            }
            if name == "since" { query.since = date } else { query.until = date }
        }
        let search = query
        let found = try await NIOThreadPool.singleton.runIfActive { [archive] in try archive.search(search) }
        var details = ["via": "web", "results": String(found.count), "web_session": session.auditID]
        details["query"] = [("user", query.user), ("target", query.target), ("since", field(filter.since)), ("until", field(filter.until)),
            ("grep", query.grep)].compactMap { name, value in value.map { "\(name)=\($0)" } }.joined(separator: " ")
        try audit.append(AuditEvent(type: .sessionSearch, time: now, actor: actor(user), connection: connection, details: details))
        return WebRoutes.html(.ok, WebPage.list(found, live: live(), filter: filter, viewer: user.name.rawValue))
    }

    func player(_ request: Request, id: String, from connection: AuditEvent.Connection) async throws -> Response {
        try await withIntactRecording(request, id: id, from: connection) { user, session, indexed, data in
            let (markers, length) = WebPage.markers(in: data)
            try audit.append(AuditEvent(
                type: .sessionReplay, time: clock.now(), actor: actor(user), connection: connection, session: .init(id: indexed.id, login: indexed.login),
                target: indexed.target,
                details: ["session_id": indexed.id.rawValue, "via": "web", "forced": "false", "web_session": session.auditID]
            ))
            // A small indexed query, like the audit append above.
            let files = (try? archive.fileOperations(of: indexed.id)) ?? []
            return WebRoutes.html(.ok, WebPage.player(indexed, markers: markers, length: length, files: files, viewer: user.name.rawValue))
        }
    }

    func cast(_ request: Request, id: String, from connection: AuditEvent.Connection) async throws -> Response {
        try await withIntactRecording(request, id: id, from: connection) { user, session, indexed, data in
            try audit.append(AuditEvent(
                type: .sessionExport, time: clock.now(), actor: actor(user), connection: connection, session: .init(id: indexed.id, login: indexed.login),
                target: indexed.target,
                details: ["session_id": indexed.id.rawValue, "via": "web", "forced": "false", "web_session": session.auditID, "bytes": String(data.count)]
            ))
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/x-asciicast", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                    .xContentTypeOptions: "nosniff", .contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
    }

    /// A signed-in auditor and session `id`'s recording, checked against its audit record;
    /// `serve` answers with it. Signed out, unknown or refused recordings are answered here.
    private func withIntactRecording(
        _ request: Request, id: String, from connection: AuditEvent.Connection,
        serve: (User, WebSession, IndexedSession, Data) throws -> Response
    ) async throws -> Response {
        let (user, session): (User, WebSession)
        switch try auditor(request, from: connection) {
        case .success(let found): (user, session) = found
        case .failure(let refusal): return refusal.response
        }
        switch try await verified(id: id, user: user, session: session, connection: connection) {
        case .notFound:
            return WebRoutes.html(.notFound, WebPage.message("Not found", detail: "No recorded session has this id.", viewer: user.name.rawValue))
        case .refused(let indexed, let reason):
            return WebRoutes.html(.conflict, WebPage.refusedRecording(indexed, reason: reason, viewer: user.name.rawValue))
        case .intact(let indexed, let data):
            return try serve(user, session, indexed, data)
        }
    }

    private enum Checked {
        case notFound
        case refused(IndexedSession, String)
        case intact(IndexedSession, Data)
    }

    /// Finds the session and checks its recording against the audit record (off the
    /// cooperative pool: it hashes the whole file); a refusal is audited as `recording.integrity`.
    private func verified(id: String, user: User, session: WebSession, connection: AuditEvent.Connection) async throws -> Checked {
        let archive = self.archive
        let outcome: Checked = try await NIOThreadPool.singleton.runIfActive {
            guard id.utf8.count <= 64, let indexed = try archive.session(id: SessionID(rawValue: id)) else { return .notFound }
            // Read once and hashed as read: the bytes served are the bytes checked.
            switch archive.readVerified(indexed) {
            case .success(let data): return .intact(indexed, data)
            case .failure(let refusal): return .refused(indexed, refusal.reason)
            }
        }
        if case .refused(let indexed, let reason) = outcome {
            try audit.append(AuditEvent(
                type: .recordingIntegrity, time: clock.now(), outcome: .failure, actor: actor(user), connection: connection,
                session: .init(id: indexed.id, login: indexed.login), target: indexed.target, reason: reason,
                details: ["session_id": indexed.id.rawValue, "forced": "false", "via": "web", "web_session": session.auditID]
            ))
        }
        return outcome
    }

    func actor(_ user: User) -> AuditEvent.Actor { .init(user: user.name.rawValue, method: "web") }

    // MARK: Assets

    /// The player and this page's script, from `http.assets_dir`; nothing else is served.
    func asset(_ name: String) async throws -> Response {
        let files: [String: (path: String, type: String)] = [
            "asciinema-player.js": ("vendor/asciinema-player.js", "text/javascript; charset=utf-8"),
            "asciinema-player.css": ("vendor/asciinema-player.css", "text/css; charset=utf-8"),
            "player-page.js": ("player-page.js", "text/javascript; charset=utf-8"),
        ]
        guard let file = files[name] else { return Response(status: .notFound) }
        let path = assets + "/" + file.path
        let data = try await NIOThreadPool.singleton.runIfActive { try? Data(contentsOf: URL(fileURLWithPath: path)) }
        guard let data else {
            logger.error("web view asset missing: \(path) (run Scripts/fetch-web-assets, or set http.assets_dir)")
            return Response(status: .notFound)
        }
        return Response(
            status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

/// A response that ends a request before its handler runs (not signed in).
struct WebRefusal: Error {
    var response: Response
}
