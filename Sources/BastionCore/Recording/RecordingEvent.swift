/// One thing that happened on a recorded channel, as the relay hands it over.
///
/// Byte payloads stay raw here: UTF-8 decoding happens on the writer thread, which keeps
/// the incomplete tail of one chunk for the next (see `UTF8Chunker`).
public enum RecordingEvent: Sendable, Equatable {
    /// Bytes the target sent on stdout (on a terminal, everything it printed): asciicast `"o"`.
    case output([UInt8])
    /// Bytes the target sent on stderr: `"o"` like stdout (a player shows one screen), but a
    /// stream of its own for character decoding and for the stream digests.
    case errorOutput([UInt8])
    /// Bytes the engineer sent on a non-PTY channel while input capture is off: counted and
    /// hashed for `session.end` (see `StreamDigests`), never written.
    case uncapturedInput([UInt8])
    /// Bytes the engineer typed: asciicast `"i"`, only when input capture is on.
    case input([UInt8])
    /// The terminal changed size: asciicast `"r"` with `"COLSxROWS"`.
    case resize(columns: Int, rows: Int)
    /// A labelled point in time (an elevation, a policy notice): asciicast `"m"`.
    case marker(String)
}

extension RecordingEvent {
    /// The payload size, for the queue's byte bound.
    var byteCount: Int {
        switch self {
        case .output(let bytes), .errorOutput(let bytes), .input(let bytes), .uncapturedInput(let bytes): bytes.count
        case .resize: 16
        case .marker(let label): label.utf8.count
        }
    }
}
