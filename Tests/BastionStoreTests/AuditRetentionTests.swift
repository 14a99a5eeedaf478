import BastionCore
import BastionCrypto
import BastionStore
import BastionTesting
import Foundation
import Testing

/// Seven years of audit log in milliseconds: retention purges whole expired checkpoint
/// ranges, keeps held ones, and leaves a chain that still verifies.
@Suite("Audit retention")
struct AuditRetentionTests {
    typealias Fixture = AuditChainTests.Fixture

    static let year: TimeInterval = 365 * 86_400

    /// 30 records (checkpoints at 10, 20, 30) at the start, 10 more a year later, sealed.
    static func sevenYearLog(_ backend: StoreBackend) throws -> Fixture {
        let fixture = try Fixture(records: 30, backend: backend)
        fixture.clock.advance(by: year)
        for index in 31...40 { try fixture.append(index) }
        try fixture.log.checkpoint()
        return fixture
    }

    /// Seven calendar years and a day after the first records: their ranges have expired,
    /// the year-later range has not.
    static func moveToExpiry(_ fixture: Fixture) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let sevenYears = try #require(calendar.date(byAdding: .year, value: 7, to: Date(timeIntervalSince1970: 1_800_000_000)))
        fixture.clock.set(sevenYears.addingTimeInterval(86_400))
    }

    static func purge(_ fixture: Fixture) throws -> AuditPurgeOutcome {
        let now = fixture.clock.now()
        return try fixture.log.purge(before: RetentionPeriod.floor.cutoff(at: now)) { outcome in
            AuditEvent(type: .auditPurge, time: now, details: ["records": String(outcome.purgedRecords)])
        }
    }

    @Test("at 7 years + 1 day exactly the expired ranges go; verify still passes", arguments: StoreBackend.allCases)
    func purgeAtSevenYears(_ backend: StoreBackend) throws {
        let fixture = try Self.sevenYearLog(backend)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        // One day short of seven calendar years after the first records: nothing goes.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let sevenYears = try #require(calendar.date(byAdding: .year, value: 7, to: start))
        fixture.clock.set(sevenYears.addingTimeInterval(-86_400))
        #expect(try Self.purge(fixture).purgedRecords == 0)
        fixture.clock.set(sevenYears.addingTimeInterval(86_400))
        let outcome = try Self.purge(fixture)
        #expect(outcome.purgedRanges == [1...10, 11...20, 21...30])
        #expect(outcome.purgedRecords == 30)
        #expect(try fixture.log.bounds()?.lowerBound == 31)
        let report = try fixture.verify()
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.purgedRanges == [1...30])
        // The purge wrote its own record, chained after the rest.
        #expect(try fixture.log.latest(type: "audit.purge") != nil)
    }

    @Test("a legal hold keeps its range past expiry until removed; both are on record", arguments: StoreBackend.allCases)
    func legalHold(_ backend: StoreBackend) throws {
        let fixture = try Self.sevenYearLog(backend)
        let now = fixture.clock.now()
        let id = try fixture.log.addHold(.range(15...15), reason: "case 42", by: "auditor", at: now) { id in
            AuditEvent(type: .holdAdd, time: now, details: ["hold_id": String(id)])
        }
        _ = try fixture.log.addHold(.user("nobody"), reason: "unrelated", by: "auditor", at: now) { _ in
            AuditEvent(type: .holdAdd, time: now)
        }
        try Self.moveToExpiry(fixture)
        var outcome = try Self.purge(fixture)
        #expect(outcome.purgedRanges == [1...10, 21...30])
        #expect(outcome.heldRanges == [11...20])
        #expect(try fixture.verify().isIntact)
        #expect(try fixture.verify().purgedRanges == [1...10, 21...30])

        _ = try fixture.log.removeHold(id: id, by: "auditor", at: fixture.clock.now()) { _ in
            AuditEvent(type: .holdRemove, time: fixture.clock.now())
        }
        #expect(throws: StoreError.self) {
            try fixture.log.removeHold(id: id, by: "auditor", at: fixture.clock.now()) { _ in AuditEvent(type: .holdRemove, time: Date()) }
        }
        outcome = try Self.purge(fixture)
        #expect(outcome.purgedRanges == [11...20])
        #expect(try fixture.verify().isIntact)
        #expect(try fixture.log.holds().map(\.isActive) == [false, true])
    }

    @Test("a user hold keeps every range with that user's records", arguments: StoreBackend.allCases)
    func userHold(_ backend: StoreBackend) throws {
        let fixture = try Self.sevenYearLog(backend)
        let now = fixture.clock.now()
        _ = try fixture.log.addHold(.user("alice"), reason: "case 7", by: "auditor", at: now) { _ in AuditEvent(type: .holdAdd, time: now) }
        try Self.moveToExpiry(fixture)
        let outcome = try Self.purge(fixture)
        #expect(outcome.purgedRanges.isEmpty)
        #expect(outcome.heldRanges == [1...10, 11...20, 21...30])
    }

    @Test("records deleted early, even whole checkpoint ranges, are reported: only expired ranges may be missing", arguments: StoreBackend.allCases)
    func earlyDeletion(_ backend: StoreBackend) async throws {
        let fixture = try Self.sevenYearLog(backend)
        try await fixture.sql(fixture.dropGuards + "DELETE FROM audit_records WHERE seq BETWEEN 11 AND 20;")
        let report = try fixture.verify()
        #expect(report.problems.map(\.seq) == [11], "\(report.problems)")
        #expect(report.problems.first?.detail.contains("before their retention date") == true)
    }

    @Test("retention periods: 7y is the floor, calendar years count")
    func periods() throws {
        #expect(try RetentionPeriod(parsing: "6y").isBelowFloor)
        #expect(try RetentionPeriod(parsing: "2500d").isBelowFloor)
        #expect(try !RetentionPeriod(parsing: "7y").isBelowFloor)
        #expect(try !RetentionPeriod(parsing: "10y").isBelowFloor)
        let now = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15
        let cutoff = RetentionPeriod.floor.cutoff(at: now)
        #expect(AuditEvent.timestamp(cutoff) == "2020-01-15T08:00:00.000Z")
    }
}
