public import Foundation

/// `replay ID --raw`: the `.cast` file itself, byte for byte (for `asciinema play -` or an
/// archive), a bounded slice per tick so that a large file never holds the connection's thread
/// for long and Ctrl-C is still seen.
public final class CastStreamConversation: CommandConversation {
    private let sessionID: SessionID
    private let path: String
    private var file: FileHandle?
    private var done = false

    /// Bytes written per tick: at ten ticks a second, about 2.5 MiB/s.
    public static let sliceSize = 256 * 1024
    /// Read and written in pieces of this size within a slice.
    static let chunkSize = 32 * 1024

    public init(sessionID: SessionID, path: String) {
        self.sessionID = sessionID
        self.path = path
    }

    public func start(now: Date) -> CommandStep {
        guard let file = FileHandle(forReadingAtPath: path) else {
            done = true
            return CommandStep(stderr: "bastion: session \(sessionID): cannot read the recording\n", exitStatus: 1)
        }
        self.file = file
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
            if chunk.isEmpty {
                done = true
                try? file.close()
                return .verbatim(bytes, exitStatus: 0)
            }
            bytes += chunk
        }
        return .verbatim(bytes)
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
