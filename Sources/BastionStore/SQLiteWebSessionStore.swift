public import BastionCore
public import GRDB
public import Foundation

/// ``WebSessionStore`` on SQLite (`web_signin_links`, `web_sessions`, migration 0008).
public final class SQLiteWebSessionStore: WebSessionStore {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func addSignInLink(tokenHash: String, user: UserName, createdAt: Date, expiresAt: Date) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "INSERT INTO web_signin_links (token_sha256, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [tokenHash, user.rawValue, createdAt.timeIntervalSince1970, expiresAt.timeIntervalSince1970]
            )
        }
    }

    public func consumeSignInLink(tokenHash: String, now: Date) throws -> SignInLinkUse {
        try database.storeWrite { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM web_signin_links WHERE token_sha256 = ?", arguments: [tokenHash]),
                let user = UserName(row["user_name"])
            else { return .unknown }
            if (row["used_at"] as Double?) != nil { return .used(user) }
            // Used up even when late: a link is good for one attempt at most.
            try db.execute(sql: "UPDATE web_signin_links SET used_at = ? WHERE token_sha256 = ?", arguments: [now.timeIntervalSince1970, tokenHash])
            return now.timeIntervalSince1970 < row["expires_at"] ? .valid(user) : .expired(user)
        }
    }

    public func addWebSession(_ session: WebSession) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "INSERT INTO web_sessions (token_sha256, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [session.tokenHash, session.user.rawValue, session.createdAt.timeIntervalSince1970, session.expiresAt.timeIntervalSince1970]
            )
        }
    }

    public func webSession(tokenHash: String, now: Date) throws -> WebSession? {
        try database.storeRead { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM web_sessions WHERE token_sha256 = ? AND expires_at > ?", arguments: [tokenHash, now.timeIntervalSince1970]
            ).flatMap(Self.session(from:))
        }
    }

    public func removeWebSession(tokenHash: String) throws -> WebSession? {
        try database.storeWrite { db in
            let found = try Row.fetchOne(db, sql: "SELECT * FROM web_sessions WHERE token_sha256 = ?", arguments: [tokenHash]).flatMap(Self.session(from:))
            try db.execute(sql: "DELETE FROM web_sessions WHERE token_sha256 = ?", arguments: [tokenHash])
            return found
        }
    }

    public func purgeWebSessions(expiredBefore cutoff: Date) throws -> Int {
        try database.storeWrite { db in
            try db.execute(sql: "DELETE FROM web_signin_links WHERE expires_at < ?", arguments: [cutoff.timeIntervalSince1970])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM web_sessions WHERE expires_at < ?", arguments: [cutoff.timeIntervalSince1970])
            removed += db.changesCount
            return removed
        }
    }

    private static func session(from row: Row) -> WebSession? {
        guard let user = UserName(row["user_name"]) else { return nil }
        return WebSession(
            tokenHash: row["token_sha256"], user: user, createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"])
        )
    }
}
