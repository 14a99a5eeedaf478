/// One thing that happened on a recorded channel, as the relay hands it over.
///
/// Byte payloads stay raw here: UTF-8 decoding happens on the writer thread, which keeps
/// the incomplete tail of one chunk for the next (see `UTF8Chunker`).
public enum RecordingEvent: Sendable, Equatable {
    /// Bytes the target sent (stdout and stderr alike): asciicast `"o"`.
    case output([UInt8])
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
        case .output(let bytes), .input(let bytes): bytes.count
        case .resize: 16
        case .marker(let label): label.utf8.count
        }
    }
}
