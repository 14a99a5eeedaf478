import BastionTesting
import Testing

extension BastionHarness {
    /// The login was refused (ssh exits 255) and the audit log says why; the peer got nothing.
    func expectRefused(_ result: ProcessRunner.Result, because reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == 255, "expected a refused login: \(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(!result.stderr.contains(reason), "the peer must not learn the reason", sourceLocation: sourceLocation)
        let reasons = try denialReasons()
        #expect(reasons.contains { $0.contains(reason) }, "audit reasons: \(reasons)", sourceLocation: sourceLocation)
    }
}
