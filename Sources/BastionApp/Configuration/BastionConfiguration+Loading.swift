import BastionCore
import BastionSSH
import TOMLKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension BastionConfiguration {
    /// Reads and validates the configuration file at `path`.
    ///
    /// A file that is missing or unreadable is an error with key `(file)`: bastiond refuses to
    /// start on defaults it was not told to use.
    public static func load(file path: String) throws(ConfigurationError) -> BastionConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
            throw ConfigurationError(file: path, line: nil, key: "(file)", reason: reason)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, line: nil, key: "(file)", reason: "not valid UTF-8")
        }
        return try parse(text, file: path)
    }

    /// Parses and validates configuration `text`; `file` names it in errors.
    ///
    /// Stops at the first problem: sections in the order of the reference (docs/configuration.md),
    /// and within a table unknown keys before values.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> BastionConfiguration {
        if let problem = TOMLPrecheck.problem(in: text) {
            throw ConfigurationError(file: file, line: problem.line, key: "(syntax)", reason: problem.reason)
        }
        let document: TOMLTable
        do {
            document = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(file: file, line: error.source.begin.line, key: "(syntax)", reason: error.description)
        } catch {
            throw ConfigurationError(file: file, line: nil, key: "(syntax)", reason: "\(error)")
        }
        let root = TOMLTableReader(table: document, path: [], file: file, locator: TOMLKeyLocator(text))
        try root.refuseUnknownKeys(allowed: Sections.all, reason: "unknown section")

        var configuration = BastionConfiguration.defaults
        if let table = try root.table("server") { try parseServer(table, into: &configuration) }
        if let table = try root.table("storage") { try parseStorage(table, into: &configuration) }
        if let table = try root.table("keys") { try parseKeys(table, into: &configuration) }
        if let table = try root.table("ca") {
            try table.refuseUnknownKeys(allowed: ["overlap"])
            configuration.ca.overlap = try table.duration("overlap", default: CAConfiguration.defaults.overlap, maximum: 90 * 86_400)
        }
        if let table = try root.table("ssh") { try parseSSH(table, into: &configuration) }
        if let table = try root.table("http") { try parseHTTP(table, into: &configuration) }
        if let table = try root.table("auth") { try parseAuth(table, into: &configuration) }
        if let table = try root.table("certificates") { try parseCertificates(table, into: &configuration) }
        if let table = try root.table("recording") { try parseRecording(table, into: &configuration) }
        if let table = try root.table("sessions") { try parseSessions(table, into: &configuration) }
        if let table = try root.table("audit") { try parseAudit(table, into: &configuration) }
        if let table = try root.table("retention") { try parseRetention(table, into: &configuration) }
        if let table = try root.table("siem") { try parseSIEMSection(table, into: &configuration) }
        if let table = try root.table("chatops") { try parseChatOpsSection(table, into: &configuration) }
        if let table = try root.table("elevation") { try parseElevation(table, into: &configuration) }
        if let table = try root.table("log") { try parseLog(table, into: &configuration) }
        if let table = try root.table("backup") { try parseBackup(table, into: &configuration) }
        if let table = try root.table("roles") { try parseRoles(table, into: &configuration) }
        if let table = try root.table("targets") { try parseTargets(table, into: &configuration) }
        return configuration
    }

    /// The top-level tables a file may have.
    private enum Sections {
        static let all: Set<String> = [
            "server", "storage", "keys", "ca", "ssh", "http", "auth", "certificates", "recording", "sessions", "audit", "retention", "siem", "elevation", "chatops", "log",
            "backup", "roles", "targets",
        ]
    }

    enum Limits {
        /// An unauthenticated connection holds a thread (DESIGN: a thread per connection), so
        /// the grace time is bounded.
        static let loginGraceTime: TimeInterval = 3_600
    }

    static func parseRole(_ name: String, in roles: TOMLTableReader, defaultTTL: TimeInterval) throws(ConfigurationError) -> Role {
        guard PolicyRules.isValidName(name) else {
            throw roles.error(name, "invalid role name (use letters, digits, \"_\", \".\" and \"-\")")
        }
        guard let role = try roles.table(name) else { throw roles.error(name, "expected a table") }
        try role.refuseUnknownKeys(allowed: [
            "targets", "logins", "max_cert_ttl", "extensions", "max_session", "allow_direct_tcpip", "elevated_logins", "max_elevation",
            "approve_targets", "approve_logins", "audit", "max_connections", "max_sessions", "file_transfer",
        ])
        var parsed = Role(
            name: name,
            targets: try role.strings(
                "targets",
                default: [],
                isValid: PolicyRules.isValidTargetPattern,
                invalid: { "invalid target name or pattern \"\($0)\" (use letters, digits, \"_\", \".\", \"-\", \"*\" and \"?\")" }
            ),
            logins: try role.strings(
                "logins",
                default: [],
                isValid: PolicyRules.isValidLogin,
                invalid: { "invalid login \"\($0)\" (must match ^[a-z_][a-z0-9_.-]{0,31}$)" }
            ),
            // A role may allow longer certificates than default_ttl (an on-call role, say), but
            // never past the 24-hour ceiling.
            maxCertificateTTL: try role.duration("max_cert_ttl", default: defaultTTL, maximum: PolicyRules.maximumCertificateTTL),
            extensions: try role.strings(
                "extensions",
                default: PolicyRules.defaultExtensions,
                isValid: PolicyRules.certificateExtensions.contains,
                invalid: { "unknown extension \"\($0)\" (allowed: \(PolicyRules.certificateExtensions.joined(separator: ", ")))" }
            ),
            maxSessionDuration: role.has("max_session") ? try role.duration("max_session", default: 0) : nil
        )
        parsed.directTCPIPDestinations = try role.strings(
            "allow_direct_tcpip",
            default: [],
            isValid: { ListenAddress($0).map { $0.port > 0 } ?? false },
            invalid: { "invalid destination \"\($0)\" (expected HOST:PORT)" }
        )
        parsed.elevatedLogins = try role.strings(
            "elevated_logins", default: [], isValid: PolicyRules.isValidLogin,
            invalid: { "invalid login \"\($0)\" (must match ^[a-z_][a-z0-9_.-]{0,31}$)" }
        )
        parsed.maxElevation = try role.duration("max_elevation", default: ElevationSettings.defaultMaxElevation, maximum: 24 * 3_600)
        parsed.approveTargets = try role.strings(
            "approve_targets", default: [], isValid: PolicyRules.isValidTargetPattern,
            invalid: { "invalid target name or pattern \"\($0)\" (use letters, digits, \"_\", \".\", \"-\", \"*\" and \"?\")" }
        )
        parsed.approveLogins = try role.strings(
            "approve_logins", default: [], isValid: PolicyRules.isValidLogin,
            invalid: { "invalid login \"\($0)\" (must match ^[a-z_][a-z0-9_.-]{0,31}$)" }
        )
        parsed.audit = try role.bool("audit", default: false)
        if role.has("max_connections") { parsed.maxConnections = try role.int("max_connections", default: 0, in: 1...100_000) }
        if role.has("max_sessions") { parsed.maxSessions = try role.int("max_sessions", default: Role.defaultMaxSessions, in: 1...1_000) }
        let fileTransfer = try role.string("file_transfer", default: FileTransferPolicy.allow.rawValue)
        guard let policy = FileTransferPolicy(configurationValue: fileTransfer) else {
            throw role.error("file_transfer", "invalid value \"\(fileTransfer)\" (expected \"allow\", \"download\", \"upload\" or \"deny\")")
        }
        parsed.fileTransfer = policy
        return parsed
    }

    static func parseTarget(_ name: String, in targets: TOMLTableReader) throws(ConfigurationError) -> TargetDefinition {
        guard PolicyRules.isValidName(name) else {
            throw targets.error(name, "invalid target name (use letters, digits, \"_\", \".\" and \"-\")")
        }
        guard let target = try targets.table(name) else { throw targets.error(name, "expected a table") }
        try target.refuseUnknownKeys(allowed: ["address", "host_key", "labels", "token_epoch"])

        // No defaults here: a target without an address cannot be reached, and one without a
        // pinned key could not be told from an impostor.
        guard target.table["address"] != nil else { throw target.error("address", "missing (required for a target)") }
        let address = try target.listenAddress("address", default: ListenAddress(host: "", port: 0), allowingPortZero: false)
        guard target.table["host_key"] != nil else { throw target.error("host_key", "missing (required for a target)") }
        let hostKey = try target.string("host_key", default: "")
        if let reason = PolicyRules.hostKeyProblem(hostKey) { throw target.error("host_key", reason) }

        var labels: [String: String] = [:]
        if let table = try target.table("labels") {
            for key in table.keysInFileOrder {
                guard PolicyRules.isValidName(key) else {
                    throw table.error(key, "invalid label name (use letters, digits, \"_\", \".\" and \"-\")")
                }
                labels[key] = try table.string(key, default: "")
            }
        }
        let tokenEpoch = try target.int("token_epoch", default: 1, in: 1...Int(Int32.max))
        return TargetDefinition(name: name, host: address.host, port: address.port, hostKey: hostKey, labels: labels, tokenEpoch: tokenEpoch)
    }

    /// Why `text` cannot be the public URL, or nil. Only http(s): it is put into links in chat.
    static func publicURLProblem(_ text: String) -> String? {
        let lowered = text.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
            return "must be an http:// or https:// URL"
        }
        guard !text.contains(where: \.isWhitespace), let url = URL(string: text), let host = url.host, !host.isEmpty else {
            return "not a valid URL"
        }
        return nil
    }
}

extension TOMLTableReader {
    /// `kex_algorithms`, `ciphers`, `macs` of `[ssh]`: names libssh implements, none that
    /// Bastion refuses (SHA-1, CBC, `none`).
    func algorithms() throws(ConfigurationError) -> SSHAlgorithms {
        let defaults = SSHAlgorithms.defaults
        let lists: [(key: String, kind: SSHAlgorithms.Kind, default: [String])] = [
            ("kex_algorithms", .keyExchange, defaults.keyExchange), ("ciphers", .cipher, defaults.ciphers), ("macs", .mac, defaults.macs),
        ]
        var names: [[String]] = []
        for list in lists {
            let value = try strings(list.key, default: list.default)
            if let problem = SSHAlgorithms.problem(with: value, as: list.kind) { throw error(list.key, problem) }
            names.append(value)
        }
        return SSHAlgorithms(keyExchange: names[0], ciphers: names[1], macs: names[2])
    }
}

extension TOMLTableReader {
    /// `max_startups`, `per_source_max_startups`, `penalties`, `penalty_exempt`, and the
    /// retired `max_connections_per_source` (read as `per_source_max_startups`, with a notice).
    func admission(into ssh: inout BastionConfiguration.SSHConfiguration) throws(ConfigurationError) {
        let defaults = AdmissionSettings.defaults
        if has("max_startups") {
            switch AdmissionSettings.parseMaxStartups(try nonEmptyString("max_startups", default: "")) {
            case .success(let value): (ssh.admission.start, ssh.admission.rate, ssh.admission.full) = value
            case .failure(let problem): throw error("max_startups", problem.reason)
            }
        }
        if has("max_connections_per_source") {
            ssh.admission.perSource = try int("max_connections_per_source", default: defaults.perSource, in: 1...65_536)
            ssh.notices.append(
                "ssh.max_connections_per_source is deprecated: read as ssh.per_source_max_startups = \(ssh.admission.perSource) "
                    + "(it now counts unauthenticated connections only); rename it"
            )
        }
        ssh.admission.perSource = try int("per_source_max_startups", default: ssh.admission.perSource, in: 1...65_536)
        switch PenaltyBox.Settings.parse(try string("penalties", default: ""), exempt: try cidrList("penalty_exempt")) {
        case .success(let penalties): ssh.penalties = penalties
        case .failure(let problem): throw error("penalties", problem.reason)
        }
    }
}

extension TOMLTableReader {
    /// An array of addresses and CIDR blocks (`["10.0.0.0/8", "192.0.2.7"]`); nil when absent or empty.
    func cidrList(_ key: String) throws(ConfigurationError) -> CIDRList? {
        let blocks = try strings(key, default: [], isValid: { (try? CIDRList($0)) != nil && !$0.contains(",") }) {
            "\"\($0)\" is not an address or CIDR block (like 10.0.0.0/8; no host bits below the prefix)"
        }
        guard !blocks.isEmpty else { return nil }
        return try? CIDRList(blocks.joined(separator: ","))
    }
}
