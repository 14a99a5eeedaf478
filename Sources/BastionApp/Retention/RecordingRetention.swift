public import BastionCore
import BastionCrypto
public import Foundation

/// Deletes session recordings past `retention.recordings`, one audit record per file,
/// written before the file goes (fail closed: no record, no deletion).
///
/// A recording's age is its directory's day (`YYYY/MM/DD`, the session's start in UTC),
/// counted from the end of that day, so no file goes early. Recordings of held users or
/// sessions are kept; their owner is read from the file's own header.
public struct RecordingRetention: Sendable {
    public struct Outcome: Sendable {
        public var deleted: [String] = []
        public var held: [String] = []
        public var bytes = 0
    }

    public var directory: String
    public var audit: any AuditEmitter
    /// Opens a sealed recording's header line to learn its owner (legal holds).
    public var keys: RecordingKeys?

    public init(directory: String, audit: any AuditEmitter, keys: RecordingKeys? = nil) {
        self.directory = directory
        self.audit = audit
        self.keys = keys
    }

    public func purge(before cutoff: Date, heldUsers: Set<String>, heldSessions: Set<String>, actor: AuditEvent.Actor, now: Date) throws -> Outcome {
        var outcome = Outcome()
        for file in recordings() where file.day.addingTimeInterval(86_400) <= cutoff {
            let owner = Self.owner(of: file.path, keys: keys)
            let sessionID = owner.session ?? file.sessionID
            if heldSessions.contains(sessionID) || owner.user.map(heldUsers.contains) == true {
                outcome.held.append(file.path)
                continue
            }
            guard let contents = FileManager.default.contents(atPath: file.path) else { continue }
            try audit.append(AuditEvent(
                type: .recordingPurge, time: now, actor: actor, session: .init(id: SessionID(rawValue: sessionID)),
                reason: "past recording retention (cutoff \(AuditEvent.timestamp(cutoff)))",
                details: [
                    "recording": file.path, "recording_size": String(contents.count),
                    "recording_sha256": AuditChain.hex(SHA256.hash(Array(contents))), "user": owner.user ?? "unknown",
                ]
            ))
            try FileManager.default.removeItem(atPath: file.path)
            try? FileManager.default.removeItem(atPath: RecordingKeySidecar.path(for: file.path))
            // `recording.capture_streams`: the session's exact bytes go with its recording.
            let streams = CapturedStreams.path(castPath: file.path)
            try? FileManager.default.removeItem(atPath: streams)
            try? FileManager.default.removeItem(atPath: RecordingKeySidecar.path(for: streams))
            outcome.deleted.append(file.path)
            outcome.bytes += contents.count
            removeIfEmpty((file.path as NSString).deletingLastPathComponent)
        }
        return outcome
    }

    struct File {
        var path: String
        var day: Date
        var sessionID: String
    }

    /// Every `YYYY/MM/DD/<id>.cast` under the directory; anything else is left alone.
    func recordings() -> [File] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var files: [File] = []
        let manager = FileManager.default
        for year in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where year.count == 4 {
            for month in (try? manager.contentsOfDirectory(atPath: "\(directory)/\(year)")) ?? [] where month.count == 2 {
                for day in (try? manager.contentsOfDirectory(atPath: "\(directory)/\(year)/\(month)")) ?? [] where day.count == 2 {
                    guard let y = Int(year), let m = Int(month), let d = Int(day),
                        let date = calendar.date(from: DateComponents(year: y, month: m, day: d))
                    else { continue }
                    let folder = "\(directory)/\(year)/\(month)/\(day)"
                    for name in (try? manager.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(".cast") {
                        files.append(File(path: "\(folder)/\(name)", day: date, sessionID: String(name.dropLast(5))))
                    }
                }
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// The `bastion` block of the asciicast header: who and which session.
    static func owner(of path: String, keys: RecordingKeys? = nil) -> (user: String?, session: String?) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return (nil, nil) }
        defer { try? handle.close() }
        var head = (try? handle.read(upToCount: 65_536)) ?? Data()
        if SealedRecording.isSealed(prefix: Array(head.prefix(8))) {
            // The header line is the first sealed chunk.
            guard let keys, let header = try? SealedRecordingHeader.parse(Array(head)), let key = try? keys.dataKey(for: header, path: path)
            else { return (nil, nil) }
            let reader = SealedRecordingReader(dataKey: key)
            reader.append(Array(head))
            head = (try? reader.next()).flatMap { $0 }.map { Data($0.plaintext) } ?? Data()
        }
        guard let line = head.split(separator: UInt8(ascii: "\n"), maxSplits: 1).first,
            let header = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
            let bastion = header["bastion"] as? [String: Any]
        else { return (nil, nil) }
        return (bastion["user"] as? String, bastion["session_id"] as? String)
    }

    private func removeIfEmpty(_ folder: String) {
        var current = folder
        for _ in 0..<3 {
            guard (try? FileManager.default.contentsOfDirectory(atPath: current))?.isEmpty == true else { return }
            try? FileManager.default.removeItem(atPath: current)
            current = (current as NSString).deletingLastPathComponent
        }
    }
}
