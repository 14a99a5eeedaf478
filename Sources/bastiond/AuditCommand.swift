import ArgumentParser
import BastionApp
import BastionCore
import BastionCrypto
import Foundation

/// `bastiond audit verify|search|export|hold|key`: the auditor's side of the audit log.
/// Every use is itself audited (auditing the auditors), except an offline `verify --file`
/// with `--public-key`, which needs no Bastion files at all.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, search and export the audit log; legal holds.",
        subcommands: [Verify.self, Search.self, Export.self, HoldCommand.self, Key.self]
    )

    static var auditor: AuditEvent.Actor { .init(user: BastionEnvironment.operatingSystemUser, method: "admin-cli") }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain and check every checkpoint signature; exit 1 if anything is wrong.",
            discussion: "Detects modified, deleted, inserted and reordered records and a truncated tail (against the last checkpoint)."
        )
        @OptionGroup var options: ConfigOption
        @Option(help: "First seq to verify (anchored on the record before it).") var from: Int64?
        @Option(help: "Last seq to verify.") var to: Int64?
        @Option(help: "Verify an export file (jsonl or csv) instead of the database.") var file: String?
        @Option(help: "The trusted audit public key (OpenSSH line or .pub file) for --file: the first audit key (`bastiond audit key`), trusted with every later key its key history signs; default: this bastion's.") var publicKey: String?

        func run() throws {
            let now = Date()
            let floor = RetentionPeriod.floor.cutoff(at: now)
            if let file {
                let text: String
                do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw Refusal(message: "cannot read \(file): \(error)") }
                let contents: AuditExport.Contents
                do { contents = try AuditExport.read(text) } catch { throw Refusal(message: "\(file): \(error)") }
                let environment = publicKey == nil ? try Startup.open(options.config) : nil
                let key = try publicKey.map(Self.loadKey) ?? SSHPublicKey(ed25519: environment!.auditTrustAnchor())
                let report = AuditExport.verify(contents, publicKey: key.ed25519PublicKey!, purgeableBefore: floor)
                try environment?.auditLog.append(Self.event(report, source: file, now: now))
                print(report.text(source: file, keyFingerprint: key.fingerprint, checkedAt: now))
                if !report.isIntact { throw ExitCode(1) }
                return
            }
            let environment = try Startup.open(options.config)
            let key = try environment.auditTrustAnchor()
            let report = try environment.auditLog.verify(publicKey: key, from: from, to: to, purgeableBefore: floor)
            let source = environment.configuration.server.dataDirectory + "/" + BastionEnvironment.databaseFileName
            try environment.auditLog.append(Self.event(report, source: source, now: now))
            print(report.text(source: source, keyFingerprint: SSHPublicKey(ed25519: key).fingerprint, checkedAt: now))
            if !report.isIntact { throw ExitCode(1) }
        }

        static func event(_ report: AuditVerificationReport, source: String, now: Date) -> AuditEvent {
            AuditEvent(
                type: .auditVerify, time: now, outcome: report.isIntact ? .success : .failure, actor: AuditCommand.auditor,
                reason: report.problems.first?.detail,
                details: [
                    "source": source, "records": String(report.recordsChecked), "problems": String(report.problemCount),
                    "first_seq": report.firstSeq.map(String.init) ?? "", "last_seq": report.lastSeq.map(String.init) ?? "",
                ]
            )
        }

        static func loadKey(_ argument: String) throws -> SSHPublicKey {
            let line = FileManager.default.fileExists(atPath: argument)
                ? ((try? String(contentsOfFile: argument, encoding: .utf8)) ?? "") : argument
            guard let key = try? SSHPublicKey(authorizedKeysLine: line.trimmingCharacters(in: .whitespacesAndNewlines)),
                key.ed25519PublicKey != nil
            else { throw Refusal(message: "--public-key: not an ssh-ed25519 public key (use `bastiond audit key`)") }
            return key
        }
    }

    /// The selection shared by `search` and `export`.
    struct Selection: ParsableArguments {
        @Option(help: "Records whose actor is this user.") var user: String?
        @Option(help: "Records of this type (e.g. auth.failed), or a glob over types (e.g. 'file.*').") var type: String?
        @Option(help: "Records about this target (or this user, for admin actions).") var target: String?
        @Option(help: "Records of this session id.") var session: String?
        @Option(help: "From this time: 2026-11-01, 2026-11-01T08:00:00Z, or a duration ago (24h, 7d).") var since: String?
        @Option(help: "Before this time (same forms).") var until: String?
        @Option(help: "From this seq.") var from: Int64?
        @Option(help: "Up to this seq.") var to: Int64?
        @Option(help: "Records whose path (file operations) matches this glob, e.g. '/etc/*'.") var path: String?

        func query(now: Date, limit: Int? = nil) throws -> AuditQuery {
            AuditQuery(
                user: user, type: type, target: target, session: session, since: try since.map { try Self.time($0, now: now, option: "--since") },
                until: try until.map { try Self.time($0, now: now, option: "--until") }, fromSeq: from, toSeq: to, limit: limit, path: path
            )
        }

        var description: String {
            [("user", user), ("type", type), ("target", target), ("session", session), ("since", since), ("until", until),
             ("from", from.map(String.init)), ("to", to.map(String.init)), ("path", path)]
                .compactMap { name, value in value.map { "\(name)=\($0)" } }.joined(separator: " ")
        }

        static func time(_ text: String, now: Date, option: String) throws -> Date {
            if let seconds = try? DurationText.parse(text) { return now.addingTimeInterval(-seconds) }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
            if let date = try? Date(text + "T00:00:00Z", strategy: Date.ISO8601FormatStyle()) { return date }
            throw Refusal(message: "\(option) \(text): use a date (2026-11-01), a UTC time (2026-11-01T08:00:00Z) or a duration ago (24h)")
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find audit records, oldest first.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var selection: Selection
        @Option(help: "At most this many records.") var limit: Int = 1_000
        @Flag(help: "Print each record's event as canonical JSON (one per line).") var json = false

        func run() throws {
            let environment = try Startup.open(options.config)
            let now = Date()
            let query = try selection.query(now: now, limit: limit)
            try environment.auditLog.append(AuditEvent(
                type: .auditSearch, time: now, actor: AuditCommand.auditor, details: ["query": selection.description]
            ))
            var count = 0
            if !json {
                print(Self.columns([("SEQ", 9), ("TIME", 26), ("TYPE", 26), ("USER", 14), ("TARGET", 14), ("SESSION", 18), ("OUTCOME", 0)]))
            }
            try environment.auditLog.forEach(query) { record in
                count += 1
                if json {
                    print(record.json)
                    return
                }
                let outcome = record.json.contains(#""outcome":"failure""#) ? "failure" : "success"
                print(Self.columns([
                    (String(record.seq), 9), (record.time, 26), (record.type, 26), (record.user ?? "-", 14), (record.target ?? "-", 14),
                    (record.session ?? "-", 18), (outcome, 0),
                ]))
            }
            if count == limit { FileHandle.standardError.write(Data("bastiond: stopped at --limit \(limit)\n".utf8)) }
        }

        /// Left-aligned columns of at least `width`; a longer value pushes the rest right
        /// instead of being cut (an auditor must see the whole value).
        static func columns(_ fields: [(String, Int)]) -> String {
            fields.map { text, width in text.count + 1 >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export records with their hashes and signed checkpoints, verifiable offline (`audit verify --file`)."
        )
        @OptionGroup var options: ConfigOption
        @OptionGroup var selection: Selection
        @Option(help: "jsonl or csv.") var format: String = "jsonl"
        @Option(help: "Write to this file (default: standard output).") var output: String?

        func run() throws {
            guard let format = AuditExport.Format(rawValue: format) else { throw Refusal(message: "--format must be jsonl or csv") }
            let environment = try Startup.open(options.config)
            let now = Date()
            let query = try selection.query(now: now)
            try environment.auditLog.append(AuditEvent(
                type: .auditExport, time: now, actor: AuditCommand.auditor,
                details: ["query": selection.description, "format": format.rawValue, "output": output ?? "stdout"]
            ))
            var sink = try OutputSink(path: output)
            let publicKey = SSHPublicKey(ed25519: try environment.auditTrustAnchor()).authorizedKeysLine + " bastion-audit"
            sink.write(AuditExport.headerLine(
                .init(publicKey: publicKey, exportedAt: now, filtered: !query.isContiguous, selection: selection.description), format: format
            ))
            // The whole key history, so the export verifies offline across rotations.
            for entry in try environment.auditLog.keyHistory() { sink.write(AuditExport.keyLine(entry, format: format)) }
            var range: ClosedRange<Int64>?
            try environment.auditLog.forEach(query) { record in
                let entry = AuditExport.Entry(seq: record.seq, previousHash: record.previousHash, hash: record.hash, bytes: record.recordBytes)
                sink.write(AuditExport.recordLine(
                    entry, summary: (record.time, record.type, record.user, record.target, record.session), format: format
                ))
                range = (range?.lowerBound ?? record.seq)...record.seq
            }
            if let range {
                for checkpoint in try environment.auditLog.checkpoints(in: range) { sink.write(AuditExport.checkpointLine(checkpoint, format: format)) }
            }
            try sink.close()
        }
    }

    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the first audit public key (the trust anchor), for verifying exports elsewhere.",
            discussion: "Rotation does not change it: later keys are trusted through the key history, each signed by its predecessor."
        )
        @OptionGroup var options: ConfigOption
        @Flag(help: "Print the key history instead: version, first seq, time, fingerprint.") var history = false

        func run() throws {
            let environment = try Startup.open(options.config)
            guard history else {
                print(SSHPublicKey(ed25519: try environment.auditTrustAnchor()).authorizedKeysLine + " bastion-audit")
                return
            }
            let entries = try environment.auditLog.keyHistory()
            guard !entries.isEmpty else {
                print("v1\tfrom seq 1\t\(SSHPublicKey(ed25519: try environment.auditTrustAnchor()).fingerprint)\t(never rotated)")
                return
            }
            for entry in entries {
                print("v\(entry.version)\tfrom seq \(entry.fromSeq)\t\(AuditEvent.timestamp(entry.time))\t\(entry.fingerprint)")
            }
        }
    }
}

/// Standard output or a new 0600 file, written line by line through a buffer.
struct OutputSink {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(path: String?) throws {
        guard let path else {
            handle = .standardOutput
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw Refusal(message: "cannot create \(path)") }
        self.handle = handle
    }

    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func close() throws {
        flush()
        if handle !== FileHandle.standardOutput { try handle.synchronize(); try handle.close() }
    }

    private mutating func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
