import BastionCore

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// `[siem]` and its `[[siem.sinks]]`: where audit records are streamed (docs/siem.md).
public struct SIEMConfiguration: Sendable, Equatable {
    /// `installation`: the middle of every event id (`bastion-<installation>-<seq>`), so
    /// receivers can tell bastions apart and de-duplicate redeliveries.
    public var installation: String
    /// `alert_depth`: undelivered records per sink above which Bastion raises an alert.
    public var alertDepth: Int
    /// `alert_age`: age of the oldest undelivered record above which Bastion raises an alert.
    public var alertAge: TimeInterval
    public var sinks: [Sink]

    public init(installation: String = "bastion", alertDepth: Int = 100_000, alertAge: TimeInterval = 15 * 60, sinks: [Sink] = []) {
        self.installation = installation
        self.alertDepth = alertDepth
        self.alertAge = alertAge
        self.sinks = sinks
    }

    public static let defaults = SIEMConfiguration()

    public enum Format: String, Sendable, CaseIterable {
        case json, cef, ocsf
    }

    /// One `[[siem.sinks]]` table.
    public struct Sink: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// RFC 5424 over TCP with octet counting, or over TLS (RFC 5425).
            case syslog(host: String, port: Int, tls: TLS?)
            /// JSON batches, Splunk HEC compatible.
            case http(url: String, token: String?)
            /// JSON lines, rotated by size.
            case file(path: String, rotateBytes: Int, keep: Int)

            public var name: String {
                switch self {
                case .syslog: "syslog"
                case .http: "http"
                case .file: "file"
                }
            }
        }

        /// TLS for a syslog sink: the CA file that signs the receiver's certificate (required),
        /// optional client certificate.
        public struct TLS: Sendable, Equatable {
            public var caFile: String?
            public var certificateFile: String?
            public var keyFile: String?

            public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
                self.caFile = caFile
                self.certificateFile = certificateFile
                self.keyFile = keyFile
            }
        }

        public var name: String
        public var kind: Kind
        public var format: Format
        /// Dotted type globs (`auth.*`, `*`).
        public var events: [String]
        /// Also send live `session.data` (the sessions being recorded).
        public var streamSessions: Bool

        public init(name: String, kind: Kind, format: Format = .json, events: [String] = ["*"], streamSessions: Bool = false) {
            self.name = name
            self.kind = kind
            self.format = format
            self.events = events
            self.streamSessions = streamSessions
        }

        /// Whether the sink wants events of `type`.
        public func accepts(_ type: String) -> Bool {
            events.contains { Glob($0).matches(type) }
        }
    }
}

extension BastionConfiguration {
    static func parseSIEM(_ siem: TOMLTableReader) throws(ConfigurationError) -> SIEMConfiguration {
        try siem.refuseUnknownKeys(allowed: ["installation", "alert_depth", "alert_age", "sinks"])
        var parsed = SIEMConfiguration.defaults
        parsed.installation = try siem.nonEmptyString("installation", default: parsed.installation)
        guard PolicyRules.isValidName(parsed.installation) else {
            throw siem.error("installation", "use letters, digits, \"_\", \".\" and \"-\"")
        }
        parsed.alertDepth = try siem.int("alert_depth", default: parsed.alertDepth, in: 1...1_000_000_000)
        parsed.alertAge = try siem.duration("alert_age", default: parsed.alertAge)
        for table in try siem.arrayOfTables("sinks") {
            let sink = try parseSink(table)
            if parsed.sinks.contains(where: { $0.name == sink.name }) {
                throw table.error("name", "another sink is already named \"\(sink.name)\"")
            }
            parsed.sinks.append(sink)
        }
        return parsed
    }

    private static func parseSink(_ table: TOMLTableReader) throws(ConfigurationError) -> SIEMConfiguration.Sink {
        guard table.has("name") else { throw table.error(nil, "a sink needs a name") }
        let name = try table.nonEmptyString("name", default: "")
        guard PolicyRules.isValidName(name) else { throw table.error("name", "invalid sink name (use letters, digits, \"_\", \".\" and \"-\")") }
        guard table.has("kind") else { throw table.error(nil, "sink \"\(name)\" needs a kind: syslog, http or file") }
        let kindName = try table.string("kind", default: "")
        let common: Set<String> = ["name", "kind", "format", "events", "stream_sessions"]
        let kind: SIEMConfiguration.Sink.Kind
        switch kindName {
        case "syslog":
            try table.refuseUnknownKeys(allowed: common.union(["address", "tls", "ca_file", "cert_file", "key_file"]), reason: "not a key of a syslog sink")
            guard table.has("address") else { throw table.error(nil, "syslog sink \"\(name)\" needs an address (host:port)") }
            let address = try table.listenAddress("address", default: ListenAddress(host: "", port: 0), allowingPortZero: false)
            let tls = try table.bool("tls", default: false)
            let files = (ca: try optionalFile(table, "ca_file"), cert: try optionalFile(table, "cert_file"), key: try optionalFile(table, "key_file"))
            if !tls, files.ca != nil || files.cert != nil || files.key != nil {
                throw table.error("tls", "ca_file, cert_file and key_file need tls = true")
            }
            if tls, files.ca == nil { throw table.error("tls", "tls = true needs ca_file: the CA that signed the receiver's certificate") }
            if (files.cert == nil) != (files.key == nil) { throw table.error(files.cert == nil ? "key_file" : "cert_file", "cert_file and key_file go together") }
            kind = .syslog(host: address.host, port: address.port, tls: tls ? .init(caFile: files.ca, certificateFile: files.cert, keyFile: files.key) : nil)
        case "http":
            try table.refuseUnknownKeys(allowed: common.union(["url", "token"]), reason: "not a key of an http sink")
            guard table.has("url") else { throw table.error(nil, "http sink \"\(name)\" needs a url") }
            let url = try table.nonEmptyString("url", default: "")
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw table.error("url", "must be an http:// or https:// URL")
            }
            kind = .http(url: url, token: table.has("token") ? try table.nonEmptyString("token", default: "") : nil)
        case "file":
            try table.refuseUnknownKeys(allowed: common.union(["path", "rotate_bytes", "keep"]), reason: "not a key of a file sink")
            guard table.has("path") else { throw table.error(nil, "file sink \"\(name)\" needs a path") }
            kind = .file(
                path: try table.nonEmptyString("path", default: ""),
                rotateBytes: try table.int("rotate_bytes", default: 100 * 1_048_576, in: 4_096...Int(Int32.max)),
                keep: try table.int("keep", default: 5, in: 1...1_000)
            )
        default:
            throw table.error("kind", "must be syslog, http or file, not \"\(kindName)\"")
        }
        let formatName = try table.string("format", default: "json")
        guard let format = SIEMConfiguration.Format(rawValue: formatName) else {
            throw table.error("format", "must be json, cef or ocsf, not \"\(formatName)\"")
        }
        let events = try table.strings("events", default: ["*"], isValid: isEventGlob) { "invalid event type glob \"\($0)\" (e.g. \"auth.*\", \"session.end\", \"*\")" }
        guard !events.isEmpty else { throw table.error("events", "must not be empty (use [\"*\"] for every event)") }
        return SIEMConfiguration.Sink(
            name: name, kind: kind, format: format, events: events, streamSessions: try table.bool("stream_sessions", default: false)
        )
    }

    private static func optionalFile(_ table: TOMLTableReader, _ key: String) throws(ConfigurationError) -> String? {
        table.has(key) ? try table.nonEmptyString(key, default: "") : nil
    }

    /// `*`, `auth.*`, `session.end`: lower-case dotted words, `*` wildcards.
    static func isEventGlob(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || "._*".contains($0)) }
    }
}
