public import BastionCrypto
public import Foundation

/// The self-verifying export of a range of the audit log (`bastiond audit export`), and its
/// reader (`bastiond audit verify --file`).
///
/// Besides the records it carries what an outsider needs to check them with nothing but the
/// audit public key: every record's previous hash and hash, the anchor hash before the range,
/// and the signed checkpoints inside it. Records are embedded byte for byte (the JSONL
/// `record` value is the canonical record itself), so nothing is re-encoded before hashing.
public enum AuditExport {
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, csv
    }

    /// One exported record.
    public struct Entry: Sendable {
        public var seq: Int64
        public var previousHash: [UInt8]
        public var hash: [UInt8]
        public var bytes: [UInt8]

        public init(seq: Int64, previousHash: [UInt8], hash: [UInt8], bytes: [UInt8]) {
            self.seq = seq
            self.previousHash = previousHash
            self.hash = hash
            self.bytes = bytes
        }
    }

    /// What the first line states about the export.
    public struct Header: Sendable {
        /// The audit public key (OpenSSH form) the checkpoints verify with; informative only:
        /// a verifier uses the key it trusts, not the one in the file.
        public var publicKey: String
        public var exportedAt: Date
        /// True when records were selected by user/type/target/session: not a contiguous range.
        public var filtered: Bool
        public var selection: String

        public init(publicKey: String, exportedAt: Date, filtered: Bool, selection: String) {
            self.publicKey = publicKey
            self.exportedAt = exportedAt
            self.filtered = filtered
            self.selection = selection
        }
    }

    /// An export read back.
    public struct Contents: Sendable {
        public var filtered: Bool
        public var entries: [Entry]
        public var checkpoints: [AuditCheckpoint]
        /// The audit key history (empty when the key never rotated).
        public var keys: [AuditKeyEntry] = []
    }

    public struct ReadError: Error, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    // MARK: - Writing

    public static func headerLine(_ header: Header, format: Format) -> String {
        switch format {
        case .jsonl:
            let object: [String: Any] = [
                "bastion_audit_export": 1, "public_key": header.publicKey, "exported_at": AuditEvent.timestamp(header.exportedAt),
                "filtered": header.filtered, "selection": header.selection,
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .csv:
            return "kind,seq,time,type,user,target,session,previous_hash,hash,time_ms,signature,record\n"
                + "export,,\(AuditEvent.timestamp(header.exportedAt)),\(header.filtered ? "filtered" : "range"),,,,,,,,"
                + quoted("\(header.selection) | \(header.publicKey)")
        }
    }

    /// One record line. `summary` fills the CSV's readable columns.
    public static func recordLine(
        _ entry: Entry, summary: (time: String, type: String, user: String?, target: String?, session: String?), format: Format
    ) -> String {
        let record = String(decoding: entry.bytes, as: UTF8.self)
        switch format {
        case .jsonl:
            return #"{"seq":\#(entry.seq),"prev":"\#(AuditChain.hex(entry.previousHash))","hash":"\#(AuditChain.hex(entry.hash))","record":\#(record)}"#
        case .csv:
            let fields = [
                "record", String(entry.seq), summary.time, summary.type, summary.user ?? "", summary.target ?? "", summary.session ?? "",
                AuditChain.hex(entry.previousHash), AuditChain.hex(entry.hash), "", "",
            ].map(quotedIfNeeded)
            return fields.joined(separator: ",") + "," + quoted(record)
        }
    }

    public static func checkpointLine(_ checkpoint: AuditCheckpoint, format: Format) -> String {
        let signature = Data(checkpoint.signature).base64EncodedString()
        switch format {
        case .jsonl:
            return #"{"checkpoint":{"hash":"\#(AuditChain.hex(checkpoint.hash))","key_version":\#(checkpoint.keyVersion),"seq":\#(checkpoint.seq),"signature":"\#(signature)","time_ms":\#(checkpoint.timeMilliseconds)}}"#
        case .csv:
            return "checkpoint,\(checkpoint.seq),\(AuditEvent.timestamp(checkpoint.time)),\(checkpoint.keyVersion),,,,,\(AuditChain.hex(checkpoint.hash)),\(checkpoint.timeMilliseconds),\(signature),"
        }
    }

    /// One entry of the audit key history (written after the header, before the records).
    public static func keyLine(_ entry: AuditKeyEntry, format: Format) -> String {
        let signature = Data(entry.signature).base64EncodedString()
        switch format {
        case .jsonl:
            return #"{"audit_key":{"from_seq":\#(entry.fromSeq),"public_key":"\#(entry.publicKeyLine)","signature":"\#(signature)","time_ms":\#(entry.timeMilliseconds),"version":\#(entry.version)}}"#
        case .csv:
            return "audit_key,\(entry.fromSeq),\(AuditEvent.timestamp(entry.time)),\(entry.version),,,,,,\(entry.timeMilliseconds),\(signature),"
                + quoted(entry.publicKeyLine)
        }
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func quotedIfNeeded(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? quoted(text) : text
    }

    // MARK: - Reading

    /// Reads an export in either format (told apart by its first line).
    public static func read(_ text: String) throws(ReadError) -> Contents {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard let first = lines.popFirst() else { throw ReadError(line: 1, reason: "empty file") }
        if first.hasPrefix("{") {
            guard first.contains("\"bastion_audit_export\":1") else { throw ReadError(line: 1, reason: "not a Bastion audit export") }
            return try readJSONLines(lines, filtered: first.contains("\"filtered\":true"))
        }
        guard first.hasPrefix("kind,seq,") else { throw ReadError(line: 1, reason: "not a Bastion audit export (jsonl or csv)") }
        guard let second = lines.popFirst(), second.hasPrefix("export,") else { throw ReadError(line: 2, reason: "missing the export line") }
        return try readCSV(lines, filtered: second.split(separator: ",", omittingEmptySubsequences: false).dropFirst(3).first == "filtered")
    }

    private static func readJSONLines(_ lines: ArraySlice<Substring>, filtered: Bool) throws(ReadError) -> Contents {
        var contents = Contents(filtered: filtered, entries: [], checkpoints: [])
        for (offset, line) in lines.enumerated() {
            let number = offset + 2
            let bytes = Array(line.utf8)
            if line.hasPrefix(#"{"checkpoint":"#) {
                guard let data = line.data(using: .utf8),
                    let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                    let fields = object["checkpoint"] as? [String: Any]
                else { throw ReadError(line: number, reason: "malformed checkpoint") }
                contents.checkpoints.append(try checkpoint(
                    seq: (fields["seq"] as? NSNumber)?.int64Value, hash: fields["hash"] as? String,
                    timeMilliseconds: (fields["time_ms"] as? NSNumber)?.int64Value, signature: fields["signature"] as? String,
                    keyVersion: fields["key_version"].map { ($0 as? NSNumber)?.intValue ?? -1 } ?? 1, line: number
                ))
                continue
            }
            if line.hasPrefix(#"{"audit_key":"#) {
                guard let data = line.data(using: .utf8),
                    let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                    let fields = object["audit_key"] as? [String: Any]
                else { throw ReadError(line: number, reason: "malformed audit key entry") }
                contents.keys.append(try keyEntry(
                    version: (fields["version"] as? NSNumber)?.intValue, publicKey: fields["public_key"] as? String,
                    fromSeq: (fields["from_seq"] as? NSNumber)?.int64Value, timeMilliseconds: (fields["time_ms"] as? NSNumber)?.int64Value,
                    signature: fields["signature"] as? String, line: number
                ))
                continue
            }
            // {"seq":N,"prev":"<64 hex>","hash":"<64 hex>","record":<record>}
            var cursor = bytes[...]
            guard cursor.consume(#"{"seq":"#), let seq = cursor.consumeInteger(), cursor.consume(#","prev":""#),
                let previous = cursor.consumeHex(), cursor.consume(#"","hash":""#), let hash = cursor.consumeHex(),
                cursor.consume(#"","record":"#), cursor.last == UInt8(ascii: "}")
            else { throw ReadError(line: number, reason: "malformed record line") }
            contents.entries.append(Entry(seq: seq, previousHash: previous, hash: hash, bytes: Array(cursor.dropLast())))
        }
        return contents
    }

    private static func readCSV(_ lines: ArraySlice<Substring>, filtered: Bool) throws(ReadError) -> Contents {
        var contents = Contents(filtered: filtered, entries: [], checkpoints: [])
        for (offset, line) in lines.enumerated() {
            let number = offset + 3
            let fields = splitCSV(line)
            guard fields.count == 12 else { throw ReadError(line: number, reason: "expected 12 fields, found \(fields.count)") }
            switch fields[0] {
            case "record":
                guard let seq = Int64(fields[1]), let previous = AuditChain.bytes(hex: fields[7]), previous.count == 32,
                    let hash = AuditChain.bytes(hex: fields[8]), hash.count == 32
                else { throw ReadError(line: number, reason: "malformed record row") }
                contents.entries.append(Entry(seq: seq, previousHash: previous, hash: hash, bytes: Array(fields[11].utf8)))
            case "checkpoint":
                contents.checkpoints.append(try checkpoint(
                    seq: Int64(fields[1]), hash: fields[8], timeMilliseconds: Int64(fields[9]), signature: fields[10],
                    keyVersion: fields[3].isEmpty ? 1 : Int(fields[3]) ?? -1, line: number
                ))
            case "audit_key":
                contents.keys.append(try keyEntry(
                    version: Int(fields[3]), publicKey: fields[11], fromSeq: Int64(fields[1]), timeMilliseconds: Int64(fields[9]),
                    signature: fields[10], line: number
                ))
            default:
                throw ReadError(line: number, reason: "unknown row kind \"\(fields[0])\"")
            }
        }
        return contents
    }

    private static func checkpoint(
        seq: Int64?, hash: String?, timeMilliseconds: Int64?, signature: String?, keyVersion: Int, line: Int
    ) throws(ReadError) -> AuditCheckpoint {
        guard let seq, let hash = hash.flatMap(AuditChain.bytes(hex:)), hash.count == 32, let timeMilliseconds,
            let signature = signature.flatMap({ Data(base64Encoded: $0) }), keyVersion > 0
        else { throw ReadError(line: line, reason: "malformed checkpoint") }
        return AuditCheckpoint(seq: seq, hash: hash, timeMilliseconds: timeMilliseconds, signature: Array(signature), keyVersion: keyVersion)
    }

    private static func keyEntry(
        version: Int?, publicKey: String?, fromSeq: Int64?, timeMilliseconds: Int64?, signature: String?, line: Int
    ) throws(ReadError) -> AuditKeyEntry {
        guard let version, version > 0, let fromSeq, let timeMilliseconds, let signature = signature.flatMap({ Data(base64Encoded: $0) }),
            let key = publicKey.flatMap({ try? SSHPublicKey(authorizedKeysLine: $0) })?.ed25519PublicKey
        else { throw ReadError(line: line, reason: "malformed audit key entry") }
        return AuditKeyEntry(version: version, publicKey: key, fromSeq: fromSeq, timeMilliseconds: timeMilliseconds, signature: Array(signature))
    }

    /// RFC 4180 fields of one line (records hold no raw newlines: JSON escapes them).
    static func splitCSV(_ line: Substring) -> [String] {
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            if inQuotes {
                if character == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex, line[next] == "\"" {
                        field.append("\"")
                        index = next
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                inQuotes = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
            index = line.index(after: index)
        }
        fields.append(field)
        return fields
    }

    // MARK: - Verifying

    /// Verifies an export with the audit public key the verifier trusts.
    ///
    /// A range export is verified as a chain from its first record's previous hash (the
    /// anchor, authenticated by the first checkpoint after it). A filtered export can only
    /// show that each record matches its own hash and that checkpoints are genuine; the
    /// report says so.
    ///
    /// `publicKey` is the trust anchor: normally the first audit key; the export's key history
    /// carries the trust to every later key, each signed by its predecessor.
    public static func verify(_ contents: Contents, publicKey: Ed25519PublicKey, purgeableBefore: Date) -> AuditVerificationReport {
        let entries = contents.entries.sorted { $0.seq < $1.seq }
        let keys = AuditKeyTrust(anchor: publicKey, history: contents.keys)
        guard !contents.filtered else {
            var verifier = AuditChainVerifier(
                anchor: .genesis, checkpoints: contents.checkpoints, keys: keys, purgeableBefore: purgeableBefore
            )
            for entry in entries {
                verifier.checkAlone(seq: entry.seq, previousHash: entry.previousHash, bytes: entry.bytes, storedHash: entry.hash)
            }
            return verifier.finishAlone()
        }
        let anchor: AuditChainVerifier.Anchor = entries.first.map { .after(seq: $0.seq - 1, hash: $0.previousHash) } ?? .genesis
        var verifier = AuditChainVerifier(anchor: anchor, checkpoints: contents.checkpoints, keys: keys, purgeableBefore: purgeableBefore)
        for entry in entries {
            verifier.check(seq: entry.seq, bytes: entry.bytes, storedHash: entry.hash)
        }
        return verifier.finish(upTo: entries.last?.seq)
    }
}

extension ArraySlice where Element == UInt8 {
    fileprivate mutating func consume(_ literal: String) -> Bool {
        let bytes = Array(literal.utf8)
        guard starts(with: bytes) else { return false }
        self = dropFirst(bytes.count)
        return true
    }

    fileprivate mutating func consumeInteger() -> Int64? {
        let digits = prefix(while: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        guard !digits.isEmpty, digits.count < 19, let value = Int64(String(decoding: digits, as: UTF8.self)) else { return nil }
        self = dropFirst(digits.count)
        return value
    }

    fileprivate mutating func consumeHex() -> [UInt8]? {
        guard count >= 64, let bytes = AuditChain.bytes(hex: String(decoding: prefix(64), as: UTF8.self)) else { return nil }
        self = dropFirst(64)
        return bytes
    }
}
