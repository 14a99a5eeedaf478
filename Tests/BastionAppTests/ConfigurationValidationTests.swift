import BastionApp
import BastionCore
import Testing

/// One test per rule: each checks the key path, the line and the gist of the reason.
@Suite("Configuration validation")
struct ConfigurationValidationTests {
    static let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"

    /// Parses `text`, expecting an error on `key` at `line` whose reason contains `reason`.
    func expectError(
        _ text: String,
        key: String,
        line: Int?,
        reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let configuration = try BastionConfiguration.parse(text, file: "test.toml")
            Issue.record("parsed without error: \(configuration)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.file == "test.toml", sourceLocation: sourceLocation)
            #expect(error.key == key, sourceLocation: sourceLocation)
            #expect(error.line == line, sourceLocation: sourceLocation)
            #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func syntaxErrorReportsTOMLKitsLine() {
        expectError("[auth]\nmax_failures = 5\nlockout = \n", key: "(syntax)", line: 3, reason: "")
        expectError("[auth\n", key: "(syntax)", line: 1, reason: "")
    }

    @Test("retention below seven years is refused at start, naming the key and line")
    func retentionFloor() throws {
        expectError("[retention]\naudit = \"6y\"\n", key: "retention.audit", line: 2, reason: "shorter than the retention floor")
        expectError("# r\n[retention]\naudit = \"7y\"\nrecordings = \"2000d\"\n", key: "retention.recordings", line: 4, reason: "seven years")
        expectError("[retention]\naudit = 7\n", key: "retention.audit", line: 2, reason: "duration string")
        expectError("[audit]\ncheckpoint_every = 0\n", key: "audit.checkpoint_every", line: 2, reason: "must be from 1")
        let parsed = try BastionConfiguration.parse("[retention]\naudit = \"10y\"\n[audit]\ncheckpoint_interval = \"1m\"\n", file: "t.toml")
        #expect(parsed.retention.audit.years == 10)
        #expect(parsed.retention.recordings == .floor)
        #expect(parsed.audit.checkpointInterval == 60)
        #expect(BastionConfiguration.defaults.retention.audit.text == "7y")
    }

    @Test func unknownKey() {
        expectError("# x\n[auth]\nmax_failures = 3\nmax_failure = 3\n", key: "auth.max_failure", line: 4, reason: "unknown key")
        expectError("# x\r\n[auth]\r\nmax_failure = 3\r\n", key: "auth.max_failure", line: 3, reason: "unknown key")
        #expect(throws: ConfigurationError(file: "b.toml", line: 2, key: "auth.max_failure", reason: "unknown key")) {
            try BastionConfiguration.parse("[auth]\nmax_failure = 3", file: "b.toml")
        }
    }

    @Test func unknownSection() {
        expectError("[server]\n\n[sever]\ndata_dir = \"x\"\n", key: "sever", line: 3, reason: "unknown section")
    }

    @Test func unknownKeyInRoleTargetAndInlineTable() {
        expectError("[roles.ops]\ntarget = [\"x\"]\n", key: "roles.ops.target", line: 2, reason: "unknown key")
        expectError(
            "[targets.web01]\naddress = \"10.0.0.5:22\"\nhost_key = \"\(Self.hostKey)\"\nport = 22\n",
            key: "targets.web01.port",
            line: 4,
            reason: "unknown key"
        )
        expectError("\n\ncertificates = { default_ttl = \"1h\", ttl = \"2h\" }\n", key: "certificates.ttl", line: 3, reason: "unknown key")
    }

    @Test func firstUnknownKeyInTheFileIsReported() {
        expectError("[auth]\nzzz = 1\naaa = 2\n", key: "auth.zzz", line: 2, reason: "unknown key")
    }

    @Test func wrongType() {
        expectError("[auth]\nmax_failures = \"five\"\n", key: "auth.max_failures", line: 2, reason: "expected an integer, found a string")
        expectError("[auth]\nmax_failures = 5.0\n", key: "auth.max_failures", line: 2, reason: "found a floating-point number")
        expectError("[certificates]\nsource_address = \"yes\"\n", key: "certificates.source_address", line: 2, reason: "true or false")
        expectError("auth = 5\n", key: "auth", line: 1, reason: "expected a table")
        expectError("[roles]\nengineer = \"x\"\n", key: "roles.engineer", line: 2, reason: "expected a table")
        expectError("[roles.a]\nlogins = \"deploy\"\n", key: "roles.a.logins", line: 2, reason: "expected an array of strings")
        expectError("[roles.a]\nlogins = [\"deploy\", 3]\n", key: "roles.a.logins", line: 2, reason: "element 2 is an integer")
        expectError("[auth]\nlockout = 900\n", key: "auth.lockout", line: 2, reason: "expected a duration string")
    }

    @Test func badDuration() {
        expectError("[auth]\nlockout = \"15 minutes\"\n", key: "auth.lockout", line: 2, reason: "invalid duration \"15 minutes\"")
        expectError("[auth]\nlockout = \"0s\"\n", key: "auth.lockout", line: 2, reason: "longer than 0s")
        expectError("[ssh]\nlogin_grace_time = \"2h\"\n", key: "ssh.login_grace_time", line: 2, reason: "at most 1h")
    }

    @Test("storage: a postgres:// URL and a node name, each refused with its key and line when wrong")
    func storage() throws {
        expectError("[storage]\nurl = \"mysql://db/bastion\"\n", key: "storage.url", line: 2, reason: "must be a postgres:// URL")
        expectError("[storage]\nurl = \"\"\n", key: "storage.url", line: 2, reason: "")
        expectError("[storage]\nurl = 5\n", key: "storage.url", line: 2, reason: "")
        expectError("[storage]\nnode = \"node a\"\n", key: "storage.node", line: 2, reason: "letters, digits")
        expectError("[storage]\nurl = \"postgres://db/b\"\nhost = \"x\"\n", key: "storage.host", line: 3, reason: "")
        expectError("[storage]\nnode_timeout = \"1s\"\n", key: "storage.node_timeout", line: 2, reason: "at least 3s")
        expectError("[storage]\nnode_timeout = \"1h\"\n", key: "storage.node_timeout", line: 2, reason: "")
        let parsed = try BastionConfiguration.parse(
            "[storage]\nurl = \"postgres://bastion:s3cret@db.internal:5432/bastion?sslmode=verify-full\"\nnode = \"bastion-a\"\n", file: "t.toml"
        )
        #expect(parsed.storage.node == "bastion-a")
        #expect(parsed.storage.nodeTimeout == 30)
        #expect(parsed.storage.redactedURL == "postgres://bastion:***@db.internal:5432/bastion?sslmode=verify-full")
        #expect(try BastionConfiguration.parse("", file: "t.toml").storage.url == nil, "SQLite unless told otherwise")
    }

    @Test func totpSkewStepsIsZeroOrOne() throws {
        expectError("[auth]\ntotp_skew_steps = 2\n", key: "auth.totp_skew_steps", line: 2, reason: "from 0 to 1")
        expectError("[auth]\ntotp_skew_steps = -1\n", key: "auth.totp_skew_steps", line: 2, reason: "from 0 to 1")
        #expect(try BastionConfiguration.parse("[auth]\ntotp_skew_steps = 0", file: "t").auth.totpSkewSteps == 0)
    }

    @Test func maxFailuresIsOneToAHundred() throws {
        expectError("[auth]\nmax_failures = 0\n", key: "auth.max_failures", line: 2, reason: "from 1 to 100")
        expectError("[auth]\nmax_failures = 101\n", key: "auth.max_failures", line: 2, reason: "from 1 to 100")
        #expect(try BastionConfiguration.parse("[auth]\nmax_failures = 100", file: "t").auth.maxFailures == 100)
    }

    @Test func badListenAddress() {
        expectError("[ssh]\nlisten = \"2222\"\n", key: "ssh.listen", line: 2, reason: "HOST:PORT")
        expectError("[ssh]\nlisten = \"127.0.0.1:70000\"\n", key: "ssh.listen", line: 2, reason: "port")
        expectError("[http]\nlisten = \"::1:8080\"\n", key: "http.listen", line: 2, reason: "brackets")
        expectError("[http]\nlisten = \"300.0.0.1:8080\"\n", key: "http.listen", line: 2, reason: "not an IP address")
    }

    @Test func publicURLMustBeHTTP() {
        expectError("[http]\npublic_url = \"ftp://bastion\"\n", key: "http.public_url", line: 2, reason: "http:// or https://")
        expectError("[http]\npublic_url = \"bastion.example.com\"\n", key: "http.public_url", line: 2, reason: "http:// or https://")
        expectError("[http]\npublic_url = \"https://\"\n", key: "http.public_url", line: 2, reason: "not a valid URL")
    }

    @Test func certificateLifetimesAreAtMostADay() {
        expectError("[certificates]\ndefault_ttl = \"25h\"\n", key: "certificates.default_ttl", line: 2, reason: "at most 24h")
        expectError("[certificates]\ndefault_ttl = \"0s\"\n", key: "certificates.default_ttl", line: 2, reason: "longer than 0s")
        expectError("[roles.a]\nmax_cert_ttl = \"2d\"\n", key: "roles.a.max_cert_ttl", line: 2, reason: "at most 24h")
        expectError("[roles.a]\nmax_cert_ttl = \"0m\"\n", key: "roles.a.max_cert_ttl", line: 2, reason: "longer than 0s")
    }

    @Test func roleCapAboveDefaultTTLIsAllowed() throws {
        let configuration = try BastionConfiguration.parse("[certificates]\ndefault_ttl = \"1h\"\n[roles.a]\nmax_cert_ttl = \"24h\"", file: "t")
        #expect(configuration.policy.roles["a"]?.maxCertificateTTL == 86_400)
    }

    @Test func unknownExtension() {
        expectError("[roles.a]\nextensions = [\"permit-pty\", \"permit-everything\"]\n", key: "roles.a.extensions", line: 2, reason: "unknown extension \"permit-everything\"")
    }

    @Test func roleWithoutTargetsOrLoginsIsACertificateOnlyRole() throws {
        let role = try BastionConfiguration.parse("[roles.auditor]\n", file: "t").policy.roles["auditor"]
        #expect(role?.targets == [])
        #expect(role?.logins == [])
        #expect(role?.extensions == ["permit-pty"])
        #expect(role?.maxCertificateTTL == 14_400)
    }

    @Test func badTargetAddress() {
        let key = "host_key = \"\(Self.hostKey)\""
        expectError("[targets.web01]\naddress = \"10.0.0.5\"\n\(key)\n", key: "targets.web01.address", line: 2, reason: "HOST:PORT")
        expectError("[targets.web01]\naddress = \"10.0.0.5:0\"\n\(key)\n", key: "targets.web01.address", line: 2, reason: "from 1 to 65535")
        expectError("[targets.web01]\n\(key)\n", key: "targets.web01.address", line: 1, reason: "missing")
    }

    @Test func badTargetHostKey() {
        let address = "address = \"10.0.0.5:22\""
        expectError("[targets.web01]\n\(address)\n", key: "targets.web01.host_key", line: 1, reason: "missing")
        expectError("[targets.web01]\n\(address)\nhost_key = \"AAAA\"\n", key: "targets.web01.host_key", line: 3, reason: "TYPE BASE64")
        expectError("[targets.web01]\n\(address)\nhost_key = \"ssh-dss AAAA\"\n", key: "targets.web01.host_key", line: 3, reason: "unsupported key type")
        expectError(
            "[targets.web01]\n\(address)\nhost_key = \"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y\"\n",
            key: "targets.web01.host_key",
            line: 3,
            reason: "does not start with its type"
        )
    }

    @Test func badTargetLabels() {
        let head = "[targets.web01]\naddress = \"10.0.0.5:22\"\nhost_key = \"\(Self.hostKey)\"\n"
        expectError(head + "labels = { env = 1 }\n", key: "targets.web01.labels.env", line: 4, reason: "expected a string")
        expectError(head + "labels = \"prod\"\n", key: "targets.web01.labels", line: 4, reason: "expected a table")
    }

    @Test func roleAndTargetNames() {
        expectError("[roles.\"on call\"]\n", key: "roles.on call", line: 1, reason: "invalid role name")
        expectError("[roles.ok]\n[roles.\"a@b\"]\n", key: "roles.a@b", line: 2, reason: "invalid role name")
        expectError("[targets.\"web/1\"]\n", key: "targets.web/1", line: 1, reason: "invalid target name")
        expectError("[roles.a]\ntargets = [\"web 1\"]\n", key: "roles.a.targets", line: 2, reason: "invalid target name or pattern")
    }

    @Test func loginGrammar() {
        expectError("[roles.a]\nlogins = [\"Root\"]\n", key: "roles.a.logins", line: 2, reason: "invalid login \"Root\"")
        expectError("[roles.a]\nlogins = [\"deploy\",\n  \"1x\"]\n", key: "roles.a.logins", line: 2, reason: "invalid login \"1x\"")
    }

    @Test func logLevel() throws {
        expectError("[log]\nlevel = \"verbose\"\n", key: "log.level", line: 2, reason: "unknown level")
        #expect(try BastionConfiguration.parse("[log]\nlevel = \"critical\"", file: "t").log.level == "critical")
    }

    @Test func emptyDirectories() {
        expectError("[server]\ndata_dir = \"\"\n", key: "server.data_dir", line: 2, reason: "must not be empty")
        expectError("[recording]\ndir = \"\"\n", key: "recording.dir", line: 2, reason: "must not be empty")
    }
}
