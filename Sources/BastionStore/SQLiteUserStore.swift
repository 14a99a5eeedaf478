public import GRDB
public import BastionCore
public import Foundation

/// ``UserStore`` on SQLite. Each method is one transaction, so the TOTP replay check and
/// the failure counter stay atomic even with the admin CLI writing at the same time.
public final class SQLiteUserStore: UserStore {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func createUser(_ user: User, key: SSHPublicKey, sealedTOTPSecret: [UInt8]) throws {
        try database.storeWrite { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [user.name.rawValue]) != nil {
                throw StoreError(.conflict, "user \(user.name) already exists")
            }
            try Self.ensureKeyIsFree(key, db: db)
            try db.execute(
                sql: "INSERT INTO users (name, roles, locked, created_at) VALUES (?, ?, ?, ?)",
                arguments: [user.name.rawValue, user.roles.joined(separator: ","), user.isLocked, user.createdAt.timeIntervalSince1970]
            )
            try Self.insertKey(key, user: user.name, at: user.createdAt, db: db)
            try db.execute(
                sql: "INSERT INTO totp_state (user_name, sealed_secret) VALUES (?, ?)",
                arguments: [user.name.rawValue, Data(sealedTOTPSecret)]
            )
        }
    }

    public func user(named name: UserName) throws -> User? {
        try database.storeSingleStatementRead { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE name = ?"), arguments: [name.rawValue]).flatMap(Self.user(from:))
        }
    }

    public func allUsers() throws -> [User] {
        try database.storeRead { db in
            try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY name").compactMap(Self.user(from:))
        }
    }

    public func removeUser(named name: UserName) throws -> Bool {
        try database.storeWrite { db in
            try db.execute(sql: "DELETE FROM users WHERE name = ?", arguments: [name.rawValue])
            return db.changesCount > 0
        }
    }

    public func setLocked(_ locked: Bool, for name: UserName) throws -> Bool {
        try database.storeWrite { db in
            try db.execute(sql: "UPDATE users SET locked = ? WHERE name = ?", arguments: [locked, name.rawValue])
            return db.changesCount > 0
        }
    }

    public func addKey(_ key: SSHPublicKey, to name: UserName, at date: Date) throws {
        try database.storeWrite { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [name.rawValue]) != nil else {
                throw StoreError(.notFound, "no user \(name)")
            }
            try Self.ensureKeyIsFree(key, db: db)
            try Self.insertKey(key, user: name, at: date, db: db)
        }
    }

    public func keys(of name: UserName) throws -> [SSHPublicKey] {
        try database.storeSingleStatementRead { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT key_line FROM user_keys WHERE user_name = ? ORDER BY added_at"), arguments: [name.rawValue])
                .map { line in
                    do { return try SSHPublicKey(authorizedKeysLine: line) } catch {
                        throw StoreError(.corrupt, "unreadable key for \(name): \(error)")
                    }
                }
        }
    }

    public func owner(of key: SSHPublicKey) throws -> UserName? {
        try database.storeSingleStatementRead { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT user_name FROM user_keys WHERE fingerprint = ?"), arguments: [key.fingerprint])
                .flatMap(UserName.init)
        }
    }

    public func totpState(of name: UserName) throws -> TOTPState? {
        try database.storeSingleStatementRead { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM totp_state WHERE user_name = ?"), arguments: [name.rawValue]).map(Self.totpState(from:))
        }
    }

    public func replaceTOTPSecret(of name: UserName, sealedSecret: [UInt8]) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: """
                    UPDATE totp_state SET sealed_secret = ?, last_used_step = NULL, consecutive_failures = 0, locked_until = NULL
                    WHERE user_name = ?
                    """,
                arguments: [Data(sealedSecret), name.rawValue]
            )
            guard db.changesCount > 0 else { throw StoreError(.notFound, "no user \(name)") }
        }
    }

    public func resealTOTPSecret(of name: UserName, from old: [UInt8], to new: [UInt8]) throws -> Bool {
        try database.storeWrite { db in
            try db.execute(
                sql: "UPDATE totp_state SET sealed_secret = ? WHERE user_name = ? AND sealed_secret = ?",
                arguments: [Data(new), name.rawValue, Data(old)]
            )
            return db.changesCount > 0
        }
    }

    public func clearFailures(of name: UserName) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "UPDATE totp_state SET consecutive_failures = 0, locked_until = NULL WHERE user_name = ?",
                arguments: [name.rawValue]
            )
        }
    }

    public func consumeTOTPStep(_ step: Int64, for name: UserName) throws -> Bool {
        try database.storeWrite { db in
            // One conditional UPDATE: the comparison and the write cannot be separated by
            // another process, so a code is accepted at most once.
            try db.execute(
                sql: """
                    UPDATE totp_state SET last_used_step = ?, consecutive_failures = 0, locked_until = NULL
                    WHERE user_name = ? AND (last_used_step IS NULL OR last_used_step < ?)
                    """,
                arguments: [step, name.rawValue, step]
            )
            return db.changesCount == 1
        }
    }

    public func recordTOTPFailure(for name: UserName, now: Date, maxFailures: Int, lockout: TimeInterval) throws -> TOTPState {
        try database.storeWrite { db in
            try db.execute(
                sql: """
                    UPDATE totp_state SET consecutive_failures = consecutive_failures + 1,
                        locked_until = CASE WHEN consecutive_failures + 1 >= ? THEN ? ELSE locked_until END
                    WHERE user_name = ?
                    """,
                arguments: [maxFailures, now.addingTimeInterval(lockout).timeIntervalSince1970, name.rawValue]
            )
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM totp_state WHERE user_name = ?"), arguments: [name.rawValue]) else {
                throw StoreError(.notFound, "no TOTP state for \(name)")
            }
            return Self.totpState(from: row)
        }
    }

    // MARK: - Rows

    private static func user(from row: Row) -> User? {
        guard let name = UserName(row["name"]) else { return nil }
        let roles: String = row["roles"]
        return User(
            name: name, roles: roles.split(separator: ",").map(String.init), isLocked: row["locked"],
            createdAt: Date(timeIntervalSince1970: row["created_at"])
        )
    }

    private static func totpState(from row: Row) -> TOTPState {
        let sealed: Data = row["sealed_secret"]
        let lockedUntil: Double? = row["locked_until"]
        return TOTPState(
            sealedSecret: Array(sealed), lastUsedStep: row["last_used_step"],
            consecutiveFailures: row["consecutive_failures"], lockedUntil: lockedUntil.map(Date.init(timeIntervalSince1970:))
        )
    }

    private static func ensureKeyIsFree(_ key: SSHPublicKey, db: Database) throws {
        if let owner = try String.fetchOne(db, sql: "SELECT user_name FROM user_keys WHERE fingerprint = ?", arguments: [key.fingerprint]) {
            throw StoreError(.conflict, "key \(key.fingerprint) is already enrolled for \(owner)")
        }
    }

    private static func insertKey(_ key: SSHPublicKey, user: UserName, at date: Date, db: Database) throws {
        try db.execute(
            sql: "INSERT INTO user_keys (fingerprint, user_name, key_line, added_at) VALUES (?, ?, ?, ?)",
            arguments: [key.fingerprint, user.rawValue, key.authorizedKeysLine, date.timeIntervalSince1970]
        )
    }
}
