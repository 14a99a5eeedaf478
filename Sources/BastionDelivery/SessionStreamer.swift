import BastionCore
import Foundation

/// Cuts live recordings into `session.data` events for one sink.
///
/// The recording file is the spill: a stream is only a cursor (session, path, bytes sent,
/// next chunk number) in the database, and each step reads what the recorder has appended
/// since. Nothing is copied on the relay's path, memory stays bounded by one chunk, and a
/// receiver that is down for hours just leaves the cursors where they are.
struct SessionStreamer {
    let sink: String
    let outbox: any OutboxStore
    let installation: String
    /// Opens sealed recordings: their chunks go out decrypted, one `session.data` event each.
    var keys: RecordingKeys? = nil
    /// Bytes of recording per event, before JSON escaping (the issue allows up to 64 KiB).
    static let chunkBytes = 32 * 1_024

    /// One chunk ready to send, and where the stream stands once it is delivered.
    struct Chunk {
        var record: SIEMRecord
        var sessionID: String
        var deliveredBytes: Int64
        var nextChunk: Int64
    }

    /// Up to `limit` chunks of the open streams (all of `finishing`'s remaining bytes, which
    /// the caller needs before that session's `session.end`).
    func pending(finishing: String? = nil, limit: Int = 16, now: Date) throws -> [Chunk] {
        var chunks: [Chunk] = []
        for stream in try outbox.streams(of: sink) where finishing == nil || stream.sessionID == finishing {
            guard let handle = FileHandle(forReadingAtPath: stream.path) else { continue }
            defer { try? handle.close() }
            let head = try handle.read(upToCount: 8).map(Array.init) ?? []
            if SealedRecording.isSealed(prefix: head) {
                try handle.seek(toOffset: 0)
                chunks += try sealedChunks(stream, handle: handle, finishing: finishing, limit: limit - chunks.count, now: now)
                if chunks.count >= limit, finishing == nil { break }
                continue
            }
            var offset = stream.deliveredBytes
            var number = stream.nextChunk
            try handle.seek(toOffset: UInt64(offset))
            let budget = finishing == nil ? limit - chunks.count : Int.max
            var sent = 0
            while sent < budget, let data = try handle.read(upToCount: Self.chunkBytes), !data.isEmpty {
                guard let piece = Self.cut(Array(data), wholeLinesOnly: finishing == nil) else { break }
                let event = AuditEvent(
                    type: .sessionData, time: now, session: .init(id: SessionID(rawValue: stream.sessionID)),
                    details: [
                        "chunk": String(number), "offset": String(offset), "bytes": String(piece.count),
                        "data": String(decoding: piece, as: UTF8.self),
                    ]
                )
                offset += Int64(piece.count)
                chunks.append(Chunk(
                    record: SIEMRecord(
                        seq: 0, eventID: "bastion-\(installation)-\(stream.sessionID)-\(number)", event: event, canonicalJSON: event.canonicalJSON()
                    ),
                    sessionID: stream.sessionID, deliveredBytes: offset, nextChunk: number + 1
                ))
                number += 1
                sent += 1
                if piece.count < data.count { try handle.seek(toOffset: UInt64(offset)) }
            }
            if chunks.count >= limit, finishing == nil { break }
        }
        return chunks
    }

    /// The next chunks of a sealed recording, each decrypted and authenticated. The cursor's
    /// byte count is a position in the sealed file, always at a chunk boundary, and its chunk
    /// number is the sealed chunk's counter plus one (chunk 1 is the asciicast header line).
    /// A chunk still being written is left for the next step; one that fails authentication
    /// stops the stream there (nothing unauthenticated is ever sent).
    private func sealedChunks(
        _ stream: OutboxStream, handle: FileHandle, finishing: String?, limit: Int, now: Date
    ) throws -> [Chunk] {
        guard let keys else { return [] }
        let head = try handle.read(upToCount: SealedRecordingHeader.maximumWrappedKeyByteCount + 4_096).map(Array.init) ?? []
        guard let header = try SealedRecordingHeader.parse(head) else { return [] }
        let key = try keys.dataKey(for: header, path: stream.path)
        let start = stream.deliveredBytes == 0 ? header.byteCount : Int(stream.deliveredBytes)
        let reader = try SealedRecordingReader(dataKey: key, header: header, chunkCount: UInt64(stream.nextChunk - 1), fileOffset: start)
        try handle.seek(toOffset: UInt64(start))
        var chunks: [Chunk] = []
        var number = stream.nextChunk
        let budget = finishing == nil ? limit : Int.max
        while chunks.count < budget {
            guard let piece = try reader.next() else {
                guard let data = try handle.read(upToCount: 1 << 16), !data.isEmpty else { break }
                reader.append(Array(data))
                continue
            }
            if piece.plaintext.isEmpty { break }  // the empty final chunk
            let event = AuditEvent(
                type: .sessionData, time: now, session: .init(id: SessionID(rawValue: stream.sessionID)),
                details: [
                    "chunk": String(number), "offset": String(piece.plaintextOffset), "bytes": String(piece.plaintext.count),
                    "data": String(decoding: piece.plaintext, as: UTF8.self),
                ]
            )
            chunks.append(Chunk(
                record: SIEMRecord(
                    seq: 0, eventID: "bastion-\(installation)-\(stream.sessionID)-\(number)", event: event, canonicalJSON: event.canonicalJSON()
                ),
                sessionID: stream.sessionID, deliveredBytes: Int64(piece.fileOffsetAfter), nextChunk: number + 1
            ))
            number += 1
        }
        return chunks
    }

    /// The part of `bytes` to send now: up to the last newline while the session runs (a
    /// line being written may still grow), everything at the end of a closed file, and never
    /// a UTF-8 sequence cut in two. Nil when nothing can go yet.
    static func cut(_ bytes: [UInt8], wholeLinesOnly: Bool) -> [UInt8]? {
        guard !bytes.isEmpty else { return nil }
        if wholeLinesOnly, let newline = bytes.lastIndex(of: UInt8(ascii: "\n")) { return Array(bytes[...newline]) }
        // A short read is the end of what is there: a partial line while the session runs.
        if bytes.count < chunkBytes { return wholeLinesOnly ? nil : bytes }
        let end = characterBoundary(bytes)
        return end > 0 ? Array(bytes[..<end]) : nil
    }

    /// The length of `bytes` without an incomplete UTF-8 sequence at its end.
    static func characterBoundary(_ bytes: [UInt8]) -> Int {
        var lead = bytes.count - 1
        while lead >= 0, bytes.count - lead < 4, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0, bytes[lead] >= 0xC0 else { return bytes.count }
        let length = bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : 2
        return bytes.count - lead < length ? lead : bytes.count
    }
}
