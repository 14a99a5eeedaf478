public import BastionCore
public import Foundation

/// ``UserStore`` on PostgreSQL, shared by every node.
///
/// The TOTP replay check is one conditional UPDATE, so a code used on one node is refused on
/// every other: the comparison and the write happen in the server, in one statement.
public final class PostgresUserStore: UserStore {
    private let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func createUser(_ user: User, key: SSHPublicKey, sealedTOTPSecret: [UInt8]) throws {
        try database.transaction { connection in
            if try connection.query("SELECT 1 FROM users WHERE name = $1", [user.name.rawValue]).first != nil {
                throw StoreError(.conflict, "user \(user.name) already exists")
            }
            try Self.ensureKeyIsFree(key, connection: connection)
            try connection.query(
                "INSERT INTO users (name, roles, locked, created_at) VALUES ($1, $2, $3, $4)",
                [user.name.rawValue, user.roles.joined(separator: ","), user.isLocked, user.createdAt]
            )
            try Self.insertKey(key, user: user.name, at: user.createdAt, connection: connection)
            try connection.query(
                "INSERT INTO totp_state (user_name, sealed_secret) VALUES ($1, $2)", [user.name.rawValue, PostgresBytes(sealedTOTPSecret)]
            )
        }
    }

    public func user(named name: UserName) throws -> User? {
        try database.run { connection in
            try connection.query("SELECT * FROM users WHERE name = $1", [name.rawValue]).first.flatMap(Self.user(from:))
        }
    }

    public func allUsers() throws -> [User] {
        try database.run { connection in
            try connection.query("SELECT * FROM users ORDER BY name").all.compactMap(Self.user(from:))
        }
    }

    public func removeUser(named name: UserName) throws -> Bool {
        try database.run { connection in
            try connection.query("DELETE FROM users WHERE name = $1", [name.rawValue]).changedRows > 0
        }
    }

    public func setLocked(_ locked: Bool, for name: UserName) throws -> Bool {
        try database.run { connection in
            try connection.query("UPDATE users SET locked = $1 WHERE name = $2", [locked, name.rawValue]).changedRows > 0
        }
    }

    public func addKey(_ key: SSHPublicKey, to name: UserName, at date: Date) throws {
        try database.transaction { connection in
            guard try connection.query("SELECT 1 FROM users WHERE name = $1", [name.rawValue]).first != nil else {
                throw StoreError(.notFound, "no user \(name)")
            }
            try Self.ensureKeyIsFree(key, connection: connection)
            try Self.insertKey(key, user: name, at: date, connection: connection)
        }
    }

    public func keys(of name: UserName) throws -> [SSHPublicKey] {
        try database.run { connection in
            try connection.query("SELECT key_line FROM user_keys WHERE user_name = $1 ORDER BY added_at", [name.rawValue]).all.map { row in
                do { return try SSHPublicKey(authorizedKeysLine: try row.text("key_line")) } catch {
                    throw StoreError(.corrupt, "unreadable key for \(name): \(error)")
                }
            }
        }
    }

    public func owner(of key: SSHPublicKey) throws -> UserName? {
        try database.run { connection in
            try connection.query("SELECT user_name FROM user_keys WHERE fingerprint = $1", [key.fingerprint]).first
                .flatMap { UserName(try $0.text("user_name")) }
        }
    }

    public func totpState(of name: UserName) throws -> TOTPState? {
        try database.run { connection in
            try connection.query("SELECT * FROM totp_state WHERE user_name = $1", [name.rawValue]).first.map(Self.totpState(from:))
        }
    }

    public func replaceTOTPSecret(of name: UserName, sealedSecret: [UInt8]) throws {
        try database.run { connection in
            let changed = try connection.query(
                """
                UPDATE totp_state SET sealed_secret = $1, last_used_step = NULL, consecutive_failures = 0, locked_until = NULL
                WHERE user_name = $2
                """,
                [PostgresBytes(sealedSecret), name.rawValue]
            ).changedRows
            guard changed > 0 else { throw StoreError(.notFound, "no user \(name)") }
        }
    }

    public func resealTOTPSecret(of name: UserName, from old: [UInt8], to new: [UInt8]) throws -> Bool {
        try database.run { connection in
            try connection.query(
                "UPDATE totp_state SET sealed_secret = $1 WHERE user_name = $2 AND sealed_secret = $3",
                [PostgresBytes(new), name.rawValue, PostgresBytes(old)]
            ).changedRows > 0
        }
    }

    public func clearFailures(of name: UserName) throws {
        try database.run { connection in
            try connection.query("UPDATE totp_state SET consecutive_failures = 0, locked_until = NULL WHERE user_name = $1", [name.rawValue])
        }
    }

    public func consumeTOTPStep(_ step: Int64, for name: UserName) throws -> Bool {
        try database.run { connection in
            // One conditional UPDATE: row-locked by the server, so of two nodes racing with
            // the same code exactly one changes the row.
            try connection.query(
                """
                UPDATE totp_state SET last_used_step = $1, consecutive_failures = 0, locked_until = NULL
                WHERE user_name = $2 AND (last_used_step IS NULL OR last_used_step < $1)
                """,
                [step, name.rawValue]
            ).changedRows == 1
        }
    }

    public func recordTOTPFailure(for name: UserName, now: Date, maxFailures: Int, lockout: TimeInterval) throws -> TOTPState {
        try database.run { connection in
            let row = try connection.query(
                """
                UPDATE totp_state SET consecutive_failures = consecutive_failures + 1,
                    locked_until = CASE WHEN consecutive_failures + 1 >= $1 THEN $2 ELSE locked_until END
                WHERE user_name = $3
                RETURNING *
                """,
                [maxFailures, now.addingTimeInterval(lockout), name.rawValue]
            ).first
            guard let row else { throw StoreError(.notFound, "no TOTP state for \(name)") }
            return try Self.totpState(from: row)
        }
    }

    // MARK: - Rows

    private static func user(from row: PostgresRow) throws -> User? {
        guard let name = UserName(try row.text("name")) else { return nil }
        return User(
            name: name, roles: try row.text("roles").split(separator: ",").map(String.init), isLocked: try row.bool("locked"),
            createdAt: try row.date("created_at")
        )
    }

    private static func totpState(from row: PostgresRow) throws -> TOTPState {
        TOTPState(
            sealedSecret: try row.bytes("sealed_secret"), lastUsedStep: try row.optionalInt64("last_used_step"),
            consecutiveFailures: try row.int("consecutive_failures"), lockedUntil: try row.optionalDate("locked_until")
        )
    }

    private static func ensureKeyIsFree(_ key: SSHPublicKey, connection: PostgresConnection) throws {
        if let owner = try connection.query("SELECT user_name FROM user_keys WHERE fingerprint = $1", [key.fingerprint]).first {
            throw StoreError(.conflict, "key \(key.fingerprint) is already enrolled for \(try owner.text("user_name"))")
        }
    }

    private static func insertKey(_ key: SSHPublicKey, user: UserName, at date: Date, connection: PostgresConnection) throws {
        try connection.query(
            "INSERT INTO user_keys (fingerprint, user_name, key_line, added_at) VALUES ($1, $2, $3, $4)",
            [key.fingerprint, user.rawValue, key.authorizedKeysLine, date]
        )
    }
}

/// ``CertificateLedger`` on PostgreSQL: a certificate issued by one node is found by every node.
public final class PostgresCertificateLedger: CertificateLedger {
    private let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func record(_ certificate: IssuedCertificate) throws {
        do {
            try database.run { connection in
                try connection.query(
                    """
                    INSERT INTO certificates (serial, user_name, key_fingerprint, key_id, valid_after, valid_before, source_address, issued_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    """,
                    [
                        Int64(bitPattern: certificate.serial), certificate.user.rawValue, certificate.keyFingerprint, certificate.keyID,
                        certificate.validAfter, certificate.validBefore, certificate.sourceAddress, certificate.issuedAt,
                    ]
                )
            }
        } catch let error as StoreError where error.code == .conflict {
            throw StoreError(.conflict, "duplicate certificate serial \(certificate.serial)")
        }
    }

    public func certificate(serial: UInt64) throws -> IssuedCertificate? {
        try database.run { connection in
            try connection.query("SELECT * FROM certificates WHERE serial = $1", [Int64(bitPattern: serial)]).first.flatMap { row in
                guard let user = UserName(try row.text("user_name")) else { return nil }
                return IssuedCertificate(
                    serial: serial, user: user, keyFingerprint: try row.text("key_fingerprint"), keyID: try row.text("key_id"),
                    validAfter: try row.date("valid_after"), validBefore: try row.date("valid_before"),
                    sourceAddress: try row.text("source_address"), issuedAt: try row.date("issued_at")
                )
            }
        }
    }
}
