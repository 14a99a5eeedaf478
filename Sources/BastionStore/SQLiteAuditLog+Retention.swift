public import BastionCore
public import Foundation
import GRDB

extension SQLiteAuditLog {
    public typealias PurgeOutcome = AuditPurgeOutcome

    /// Removes whole checkpoint ranges whose closing checkpoint was signed before `cutoff`
    /// and that no active hold touches, then appends `record(outcome)` in the same
    /// transaction: the purge and its audit record land together or not at all.
    ///
    /// Checkpoints stay, so the chain verifies across the gap, and the gap is provably
    /// expired (its closing checkpoint's signed time is older than the retention floor).
    public func purge(before cutoff: Date, record: (PurgeOutcome) -> AuditEvent) throws -> PurgeOutcome {
        try database.storeWrite { db in
            var outcome = PurgeOutcome()
            let heldUsers = try String.fetchAll(db, sql: "SELECT value FROM audit_holds WHERE removed_at IS NULL AND kind = 'user'")
            let heldSessions = try String.fetchAll(db, sql: "SELECT value FROM audit_holds WHERE removed_at IS NULL AND kind = 'session'")
            let heldRanges = try String.fetchAll(db, sql: "SELECT value FROM audit_holds WHERE removed_at IS NULL AND kind = 'range'")
                .compactMap(LegalHold.Scope.parseRange)
            var opening: Int64 = 1
            for checkpoint in try Self.checkpoints(db) {
                defer { opening = checkpoint.seq + 1 }
                guard checkpoint.time < cutoff else { break }
                let range = opening...checkpoint.seq
                let count = try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM audit_records WHERE seq BETWEEN ? AND ?", arguments: [range.lowerBound, range.upperBound]
                ) ?? 0
                guard count > 0 else { continue }
                if try Self.isHeld(range, users: heldUsers, sessions: heldSessions, ranges: heldRanges, db) {
                    outcome.heldRanges.append(range)
                    continue
                }
                try db.execute(sql: "INSERT INTO audit_purge_authorization (from_seq, to_seq) VALUES (?, ?)", arguments: [range.lowerBound, range.upperBound])
                try db.execute(sql: "DELETE FROM audit_records WHERE seq BETWEEN ? AND ?", arguments: [range.lowerBound, range.upperBound])
                try db.execute(sql: "DELETE FROM audit_purge_authorization")
                outcome.purgedRanges.append(range)
                outcome.purgedRecords += count
            }
            try appendChained([record(outcome).canonicalJSON()], db)
            return outcome
        }
    }

    private static func isHeld(
        _ range: ClosedRange<Int64>, users: [String], sessions: [String], ranges: [ClosedRange<Int64>], _ db: Database
    ) throws -> Bool {
        if ranges.contains(where: { $0.overlaps(range) }) { return true }
        for (column, values) in [("user", users), ("session", sessions)] where !values.isEmpty {
            let placeholders = Array(repeating: "?", count: values.count).joined(separator: ",")
            var arguments: StatementArguments = [range.lowerBound, range.upperBound]
            arguments += StatementArguments(values)
            if try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM audit_records WHERE seq BETWEEN ? AND ? AND \(column) IN (\(placeholders)))",
                arguments: arguments
            ) == true {
                return true
            }
        }
        return false
    }

    // MARK: - Legal holds

    /// Places a hold and appends `event` in one transaction; returns the hold's id.
    public func addHold(_ scope: LegalHold.Scope, reason: String, by actor: String, at time: Date, event: (Int64) -> AuditEvent) throws -> Int64 {
        try database.storeWrite { db in
            let (kind, value) = scope.stored
            try db.execute(
                sql: "INSERT INTO audit_holds (kind, value, reason, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                arguments: [kind, value, reason, AuditEvent.timestamp(time), actor]
            )
            let id = db.lastInsertedRowID
            try appendChained([event(id).canonicalJSON()], db)
            return id
        }
    }

    /// Ends hold `id` (kept on record as removed) and appends `event` in one transaction.
    public func removeHold(id: Int64, by actor: String, at time: Date, event: (LegalHold) -> AuditEvent) throws -> LegalHold {
        try database.storeWrite { db in
            guard var hold = try Self.holds(db).first(where: { $0.id == id }), hold.isActive else {
                throw StoreError(.notFound, "no active legal hold with id \(id)")
            }
            try db.execute(
                sql: "UPDATE audit_holds SET removed_at = ?, removed_by = ? WHERE id = ?",
                arguments: [AuditEvent.timestamp(time), actor, id]
            )
            hold.removedAt = time
            hold.removedBy = actor
            try appendChained([event(hold).canonicalJSON()], db)
            return hold
        }
    }

    /// Every hold, active and removed, oldest first.
    public func holds() throws -> [LegalHold] {
        try database.storeRead { db in try Self.holds(db) }
    }

    /// Users and sessions whose recordings an active hold keeps (range holds name the
    /// sessions their records mention).
    public func heldRecordingOwners() throws -> (users: Set<String>, sessions: Set<String>) {
        try database.storeRead { db in
            var users = Set<String>()
            var sessions = Set<String>()
            for hold in try Self.holds(db) where hold.isActive {
                switch hold.scope {
                case .user(let name): users.insert(name)
                case .session(let id): sessions.insert(id)
                case .range(let range):
                    sessions.formUnion(try String.fetchAll(
                        db, sql: "SELECT DISTINCT session FROM audit_records WHERE seq BETWEEN ? AND ? AND session IS NOT NULL",
                        arguments: [range.lowerBound, range.upperBound]
                    ))
                }
            }
            return (users, sessions)
        }
    }

    private static func holds(_ db: Database) throws -> [LegalHold] {
        try Row.fetchAll(db, sql: "SELECT * FROM audit_holds ORDER BY id").compactMap { row in
            guard let scope = LegalHold.Scope(storedKind: row["kind"], value: row["value"]) else { return nil }
            return LegalHold(
                id: row["id"], scope: scope, reason: row["reason"], createdAt: AuditEvent.parseTimestamp(row["created_at"]) ?? .distantPast,
                createdBy: row["created_by"], removedAt: (row["removed_at"] as String?).flatMap(AuditEvent.parseTimestamp),
                removedBy: row["removed_by"]
            )
        }
    }
}
