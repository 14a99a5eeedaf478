public import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
// `timespec` and `stat` are declared by libdispatch's C headers too, and a clean build may
// attribute them there (MemberImportVisibility): import it so either way compiles.
#if canImport(CDispatch)
import CDispatch
#endif

/// The daemon's log level, one value for every logger, changed in place by a reload.
public final class LogLevelSwitch: Sendable {
    private let level: Mutex<Logger.Level>

    public init(_ level: Logger.Level) {
        self.level = Mutex(level)
    }

    public var current: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
}

/// bastiond's log lines on standard error. Under systemd (`$JOURNAL_STREAM` set: stderr is
/// connected to journald) each line starts with its syslog priority, `<3>` for an error to
/// `<7>` for debug, and carries no timestamp (the journal stamps it); `journalctl -p warning`
/// then filters as it does for sshd. Elsewhere: a timestamp, the level and the label.
public struct DaemonLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let levelSwitch: LogLevelSwitch
    private let journal: Bool

    public init(label: String, level: LogLevelSwitch, journal: Bool) {
        self.label = label
        self.levelSwitch = level
        self.journal = journal
    }

    /// Whether standard error goes to journald: `$JOURNAL_STREAM` (systemd.exec(5)) names the
    /// device and inode of the stream systemd connected, and standard error must still be it
    /// (a shell in between that redirected it gets plain lines).
    public static func writesToJournal(_ environment: [String: String], standardError: Int32 = 2) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        var status = stat()
        guard fstat(standardError, &status) == 0 else { return false }
        return value == "\(status.st_dev):\(status.st_ino)"
    }

    public var logLevel: Logger.Level {
        get { levelSwitch.current }
        set { levelSwitch.current = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog(3) priorities: debug 7, info 6, notice 5, warning 4, error 3, critical 2.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        let line = Self.line(
            event: event, label: label, metadata: metadata.merging(metadataProvider?.get() ?? [:]) { old, _ in old }, journal: journal,
            time: journal ? "" : Self.timestamp()
        )
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// One line, without its newline. Newlines inside a message or value become spaces: one
    /// event, one journal entry.
    public static func line(event: LogEvent, label: String, metadata: Logger.Metadata, journal: Bool, time: String) -> String {
        var fields = metadata.merging(event.metadata ?? [:]) { _, new in new }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        fields.insert("\(event.message)", at: 0)
        let text = String(fields.joined(separator: " ").map { $0.isNewline ? " " : $0 })
        return journal ? "<\(priority(of: event.level))>\(label): \(text)" : "\(time) \(event.level) \(label): \(text)"
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
