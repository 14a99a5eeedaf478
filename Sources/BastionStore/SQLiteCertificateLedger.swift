public import GRDB
public import BastionCore
import Foundation

/// ``CertificateLedger`` on SQLite.
///
/// The lookup runs on every certificate login, so its statement is prepared once per
/// database connection (`cachedStatement`) rather than parsed each time.
public final class SQLiteCertificateLedger: CertificateLedger {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func record(_ certificate: IssuedCertificate) throws {
        do {
            try database.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO certificates (serial, user_name, key_fingerprint, key_id, valid_after, valid_before, source_address, issued_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        Int64(bitPattern: certificate.serial), certificate.user.rawValue, certificate.keyFingerprint, certificate.keyID,
                        certificate.validAfter.timeIntervalSince1970, certificate.validBefore.timeIntervalSince1970,
                        certificate.sourceAddress, certificate.issuedAt.timeIntervalSince1970,
                    ]
                )
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError(.conflict, "duplicate certificate serial \(certificate.serial)")
        } catch {
            throw StoreError(.unavailable, "\(error)")
        }
    }

    public func certificate(serial: UInt64) throws -> IssuedCertificate? {
        try database.storeSingleStatementRead { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM certificates WHERE serial = ?")
            return try Row.fetchOne(statement, arguments: [Int64(bitPattern: serial)]).flatMap { row in
                guard let user = UserName(row["user_name"]) else { return nil }
                return IssuedCertificate(
                    serial: serial, user: user, keyFingerprint: row["key_fingerprint"], keyID: row["key_id"],
                    validAfter: Date(timeIntervalSince1970: row["valid_after"]), validBefore: Date(timeIntervalSince1970: row["valid_before"]),
                    sourceAddress: row["source_address"], issuedAt: Date(timeIntervalSince1970: row["issued_at"])
                )
            }
        }
    }
}
