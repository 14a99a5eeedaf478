import Foundation

/// A plain TCP connection to 127.0.0.1 that says nothing: an idle or hostile client.
final class LoopbackSocket {
    private var stream: TCPStream?

    init(port: Int) throws {
        stream = try TCPStream(port: port)
    }

    /// Closes the connection (once; the stream closes its descriptor when released).
    func close() {
        stream = nil
    }
}
