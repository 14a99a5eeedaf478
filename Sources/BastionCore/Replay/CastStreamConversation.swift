public import Foundation

/// `replay ID --raw`: the `.cast` file itself, byte for byte (for `asciinema play -` or an
/// archive), a bounded slice per tick so that a large file never holds the connection's thread
/// for long and Ctrl-C is still seen.
public final class CastStreamConversation: CommandConversation {
    private let sessionID: SessionID
    private let path: String
    private let keys: RecordingKeys?
    private var file: FileHandle?
    /// Set for a sealed recording: what is streamed is its decrypted asciicast text.
    private var sealed: SealedRecordingReader?
    private var done = false

    /// Bytes written per tick: at ten ticks a second, about 2.5 MiB/s.
    public static let sliceSize = 256 * 1024
    /// Read and written in pieces of this size within a slice.
    static let chunkSize = 32 * 1024

    public init(sessionID: SessionID, path: String, keys: RecordingKeys? = nil) {
        self.sessionID = sessionID
        self.path = path
        self.keys = keys
    }

    public func start(now: Date) -> CommandStep {
        guard let file = FileHandle(forReadingAtPath: path) else {
            done = true
            return CommandStep(stderr: "bastion: session \(sessionID): cannot read the recording\n", exitStatus: 1)
        }
        self.file = file
        let head = (try? file.read(upToCount: Self.chunkSize)).map { Array($0) } ?? []
        if SealedRecording.isSealed(prefix: Array(head.prefix(8))) {
            guard let keys, let header = try? SealedRecordingHeader.parse(head), let key = try? keys.dataKey(for: header, path: path) else {
                done = true
                try? file.close()
                return CommandStep(stderr: "bastion: session \(sessionID): the recording is sealed and cannot be opened here\n", exitStatus: 1)
            }
            let reader = SealedRecordingReader(dataKey: key)
            reader.append(head)
            sealed = reader
        } else {
            try? file.seek(toOffset: 0)
        }
        return tick(now: now)
    }

    public func receive(_ input: [UInt8], now: Date) -> CommandStep {
        input.contains(0x03) ? interrupt(now: now) : .nothing
    }

    public func tick(now: Date) -> CommandStep {
        guard !done, let file else { return .nothing }
        var bytes: [UInt8] = []
        while bytes.count < Self.sliceSize {
            let chunk: Data
            do { chunk = try file.read(upToCount: Self.chunkSize) ?? Data() } catch {
                done = true
                try? file.close()
                return CommandStep(stderr: "bastion: session \(sessionID): reading the recording failed\n", exitStatus: 1)
            }
            if let sealed {
                if !chunk.isEmpty { sealed.append(Array(chunk)) }
                do {
                    while let piece = try sealed.next() { bytes += piece.plaintext }
                } catch {
                    done = true
                    try? file.close()
                    return Self.failed(bytes, "bastion: session \(sessionID): the recording fails authentication\n")
                }
                if chunk.isEmpty, !sealed.isComplete {
                    done = true
                    try? file.close()
                    return Self.failed(bytes, "bastion: session \(sessionID): the recording is cut short\n")
                }
            }
            if chunk.isEmpty {
                done = true
                try? file.close()
                return .verbatim(bytes, exitStatus: 0)
            }
            if sealed == nil { bytes += chunk }
        }
        return .verbatim(bytes)
    }

    /// What verified before a sealed recording stopped verifying, then the reason.
    private static func failed(_ bytes: [UInt8], _ message: String) -> CommandStep {
        var step = CommandStep.verbatim(bytes, exitStatus: 1)
        step.stderr = Array(message.utf8)
        return step
    }

    /// The stream does not depend on input.
    public func endOfInput(now: Date) -> CommandStep { .nothing }

    public func interrupt(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        done = true
        try? file?.close()
        return CommandStep(exitStatus: 130)
    }
}
