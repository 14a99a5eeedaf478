public import Foundation

extension AuditVerificationReport {
    /// The report as an auditor files it: what was checked, against which key, and the
    /// verdict, then one line per problem with the seq it breaks at.
    public func text(source: String, keyFingerprint: String, checkedAt: Date) -> String {
        var lines = [
            "Bastion audit verification",
            "  source:        \(source)",
            "  audit key:     \(keyFingerprint)" + (keyVersions > 1 ? " (trust anchor; key history of \(keyVersions) keys checked)" : ""),
            "  checked at:    \(AuditEvent.timestamp(checkedAt))",
        ]
        if let firstSeq, let lastSeq {
            lines.append("  records:       \(recordsChecked) (seq \(firstSeq)-\(lastSeq))")
        } else {
            lines.append("  records:       none")
        }
        lines.append("  checkpoints:   \(checkpointsChecked) signature(s) checked" + (lastCheckpointSeq.map { ", last at seq \($0)" } ?? ""))
        if isSelection {
            lines.append("  scope:         a filtered selection: each record checked against its own hash; chain continuity is not provable")
        } else if unsealedRecords > 0 {
            lines.append("  unsealed tail: \(unsealedRecords) record(s) after the last checkpoint (chained, not yet signed)")
        }
        for range in purgedRanges {
            lines.append("  purged:        seq \(range.lowerBound)-\(range.upperBound) (past retention; closing checkpoint signed)")
        }
        if isIntact {
            lines.append("RESULT: INTACT")
        } else {
            lines.append("RESULT: BROKEN (\(problemCount) problem\(problemCount == 1 ? "" : "s"))")
            for problem in problems {
                lines.append("  seq \(problem.seq): \(problem.kind.rawValue): \(problem.detail)")
            }
            if problemCount > problems.count { lines.append("  … and \(problemCount - problems.count) more") }
        }
        return lines.joined(separator: "\n")
    }
}
