public import BastionCore
public import Foundation

/// ``WebSessionStore`` on PostgreSQL: a web sign-in made through one node is valid on all.
/// Hashes only, as on SQLite: the database alone signs nobody in.
public final class PostgresWebSessionStore: WebSessionStore {
    private let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func addSignInLink(tokenHash: String, user: UserName, createdAt: Date, expiresAt: Date) throws {
        try database.run { connection in
            try connection.query(
                "INSERT INTO web_signin_links (token_sha256, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                [tokenHash, user.rawValue, createdAt, expiresAt]
            )
        }
    }

    public func consumeSignInLink(tokenHash: String, now: Date) throws -> SignInLinkUse {
        try database.transaction { connection in
            // FOR UPDATE: two nodes opening the same link at once see one use between them.
            guard let row = try connection.query("SELECT * FROM web_signin_links WHERE token_sha256 = $1 FOR UPDATE", [tokenHash]).first,
                let user = UserName(try row.text("user_name"))
            else { return .unknown }
            if try row.optionalDouble("used_at") != nil { return .used(user) }
            // Used up even when late: a link is good for one attempt at most.
            try connection.query("UPDATE web_signin_links SET used_at = $1 WHERE token_sha256 = $2", [now, tokenHash])
            return now.timeIntervalSince1970 < (try row.double("expires_at")) ? .valid(user) : .expired(user)
        }
    }

    public func addWebSession(_ session: WebSession) throws {
        try database.run { connection in
            try connection.query(
                "INSERT INTO web_sessions (token_sha256, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                [session.tokenHash, session.user.rawValue, session.createdAt, session.expiresAt]
            )
        }
    }

    public func webSession(tokenHash: String, now: Date) throws -> WebSession? {
        try database.run { connection in
            try connection.query("SELECT * FROM web_sessions WHERE token_sha256 = $1 AND expires_at > $2", [tokenHash, now]).first
                .flatMap(Self.session(from:))
        }
    }

    public func removeWebSession(tokenHash: String) throws -> WebSession? {
        try database.run { connection in
            try connection.query("DELETE FROM web_sessions WHERE token_sha256 = $1 RETURNING *", [tokenHash]).first.flatMap(Self.session(from:))
        }
    }

    public func purgeWebSessions(expiredBefore cutoff: Date) throws -> Int {
        try database.transaction { connection in
            try connection.query("DELETE FROM web_signin_links WHERE expires_at < $1", [cutoff]).changedRows
                + connection.query("DELETE FROM web_sessions WHERE expires_at < $1", [cutoff]).changedRows
        }
    }

    private static func session(from row: PostgresRow) throws -> WebSession? {
        guard let user = UserName(try row.text("user_name")) else { return nil }
        return WebSession(
            tokenHash: try row.text("token_sha256"), user: user, createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at")
        )
    }
}
