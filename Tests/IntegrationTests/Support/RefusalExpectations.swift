import BastionTesting
import Testing

extension BastionHarness {
    /// Runs `attempt`, a login that must be refused (ssh exits 255) with the peer told nothing,
    /// and finds `reason` among the `auth.failed` records that attempt added: a reason an
    /// earlier denial left in the log does not count for this one.
    func expectRefused(
        because reason: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ attempt: () async throws -> ProcessRunner.Result
    ) async throws {
        let before = try auditRecords("auth.failed").count
        let result = try await attempt()
        #expect(result.status == 255, "expected a refused login: \(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(!result.stderr.contains(reason), "the peer must not learn the reason", sourceLocation: sourceLocation)
        // The record is durable before the client hears "denied", so it is there by now.
        let added = try auditRecords("auth.failed").dropFirst(before).compactMap { $0["reason"] as? String }
        #expect(added.contains { $0.contains(reason) }, "reasons audited for this attempt: \(added)", sourceLocation: sourceLocation)
    }
}
