public import Foundation

/// One `file.*` audit record of a session, as `sessions` and the web view list it.
public struct SessionFileOperation: Sendable, Equatable {
    /// `file.close`, `file.rename`, …
    public var type: String
    public var time: Date
    public var succeeded: Bool
    public var path: String
    public var details: [String: String]
    public var reason: String?

    public init(type: String, time: Date, succeeded: Bool, path: String, details: [String: String], reason: String? = nil) {
        self.type = type
        self.time = time
        self.succeeded = succeeded
        self.path = path
        self.details = details
        self.reason = reason
    }

    /// From a stored record of a `file.*` type; nil for anything else.
    public init?(record: AuditStoredRecord) {
        guard record.type.hasPrefix("file."), let event = try? AuditEvent(canonicalJSON: Array(record.json.utf8)) else { return nil }
        self.init(
            type: record.type, time: event.time, succeeded: event.outcome == .success, path: event.details["path"] ?? "",
            details: event.details, reason: event.reason
        )
    }

    /// `file.close /srv/backup.tgz  read 1.2 MiB  sha256 3f2a…`: what happened, in one line.
    public var summary: String {
        var parts = [type, path]
        if let to = details["to"] { parts.append("→ \(to)") }
        if type == "file.close" {
            let read = Int(details["bytes_read"] ?? "") ?? 0
            let written = Int(details["bytes_written"] ?? "") ?? 0
            if read > 0 { parts.append("read \(SessionListReport.size(read))") }
            if written > 0 { parts.append("wrote \(SessionListReport.size(written))") }
            if let sha256 = details["sha256"] { parts.append("sha256 \(sha256)") } else if let status = details["sha256_status"] { parts.append("(\(status))") }
        } else if let flags = details["flags"] {
            parts.append(flags)
        }
        if type == "file.refused" { parts.append("refused: \(reason ?? details["operation"] ?? "")") } else if !succeeded, let reason { parts.append("failed: \(reason)") }
        return parts.joined(separator: "  ")
    }

    /// The words a session's file operations add to what `sessions --grep` finds it by.
    public static func searchText(_ operations: [SessionFileOperation]) -> String {
        operations.map { ([$0.path] + ($0.details["to"].map { [$0] } ?? [])).joined(separator: " ") }.joined(separator: "\n")
    }
}
