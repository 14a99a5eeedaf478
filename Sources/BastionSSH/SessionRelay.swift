import BastionCore
import CLibSSH
import Foundation

/// Moves bytes between the client's channel and the target's, for one session.
///
/// Owned by the connection thread alone (no locks per packet, STYLE.md rule 4).
/// Re-key safety: `ssh_channel_write` on the non-blocking target session returns a short
/// count while a key exchange runs; the bytes it did not take stay in a pending buffer and
/// nothing more is read until they are written (RelayStream). Backpressure: nothing is
/// read from one side while the other side's window is closed or the recorder's queue is
/// full, so a slow client, target or disk slows the session instead of growing memory.
final class SessionRelay {
    let client: ssh_channel
    let upstream: UpstreamSession
    let target: ssh_channel
    var recorder: SessionRecorder?
    /// Watchers of the session (`watch ID`) get the output as it is read; never waits.
    var broadcast: SessionBroadcast?
    let captureInput: Bool
    /// SFTP or legacy scp parsed on the way: the client's requests and the target's stdout
    /// go through it, whole packets out, refusals answered by Bastion (nil: bytes pass as read).
    let fileTransfer: FileTransferTap?
    /// What the tap produced that did not fit its stream yet, per destination; nothing more is
    /// read from that side until it is gone.
    private var toTargetQueue = PendingBytes()
    private var toClientQueue = PendingBytes()
    /// File operations the tap completed since the owner last took them (`file.*` records).
    private var fileOperations: [FileOperation] = []
    /// Set when the tap found the stream breaking its protocol: the owner ends the session.
    private(set) var fileTransferError: FormatError?

    // Bytes read but not yet written, per direction and stream.
    private let up = RelayStream()
    private let down = RelayStream()
    private let downError = RelayStream()
    // What was read from one side that the recorder's queue has not accepted yet.
    private var unrecordedOutput: RecordingEvent?
    private var unrecordedInput: RecordingEvent?

    private(set) var bytesUp = 0
    private(set) var bytesDown = 0
    private(set) var lastActivity: Date
    /// EOF, exit status and CLOSE, in OpenSSH's order (the target's exit is reported into it).
    var ending = RelayEnding()

    init(
        client: ssh_channel, upstream: UpstreamSession, target: ssh_channel, recorder: SessionRecorder?, captureInput: Bool,
        fileTransfer: FileTransferTap? = nil, now: Date
    ) {
        self.fileTransfer = fileTransfer
        self.client = client
        self.upstream = upstream
        self.target = target
        self.recorder = recorder
        self.captureInput = captureInput
        self.lastActivity = now
    }

    /// Moves what can move now; returns false when nothing moved.
    @discardableResult
    func pump(now: Date) -> Bool {
        var movedAny = false
        while true {
            let moved = move(up, from: client, to: target, stderr: false)
                + move(down, from: target, to: client, stderr: false)
                + move(downError, from: target, to: client, stderr: true)
            if moved == 0 { break }
            movedAny = true
        }
        if movedAny { lastActivity = now }
        forwardEndings(now: now)
        return movedAny
    }

    /// The file operations completed since the last call, for the `file.*` audit records.
    func takeFileOperations() -> [FileOperation] {
        defer { fileOperations = [] }
        return fileOperations
    }

    /// The channel ended: what the tap still tracks (files left open, unanswered requests).
    func finishFileTransfer() -> [FileOperation] {
        takeFileOperations() + (fileTransfer?.finish() ?? [])
    }

    /// True while a partial packet of a bulk transfer waits for the rest (at most
    /// `RelayStream.holdLimit`): the event loop must come back by then even if nothing arrives.
    var holdsPartialPacket: Bool { up.isHolding || down.isHolding || downError.isHolding }

    /// True once Bastion has sent the client its exit status (if any), EOF and CLOSE, or the
    /// client closed first.
    var isFinished: Bool { ending.isFinished }

    /// Ends the session from Bastion's side (timeout, expiry, lock, recording failure):
    /// one line to the user, then EOF and CLOSE without an exit status.
    func terminate(message: String, now: Date) {
        tell(message)
        perform(ending.terminate(targetSentEOF: ssh_channel_is_eof(target) != 0, now: now))
    }

    /// One line from Bastion on the user's stderr (`bastion: …`), between the session's output.
    func tell(_ message: String) {
        let line = Array("\r\nbastion: \(message)\r\n".utf8)
        _ = line.withUnsafeBytes { ssh_channel_write_stderr(client, $0.baseAddress, UInt32($0.count)) }
    }

    // MARK: - Directions

    /// Moves one stream from `source` to `destination` until nothing more moves now; returns
    /// the bytes read plus the bytes written (progress, for the caller's loop).
    ///
    /// Reads only what the destination's window can take and only while the recorder keeps
    /// up, so a slow client, target or disk stops the reading (backpressure). What
    /// `ssh_channel_write` does not take (a closed window, a re-key in progress) stays in the
    /// stream and is written first next time; EOF is forwarded only once the stream is empty.
    private func move(_ stream: RelayStream, from source: ssh_channel, to destination: ssh_channel, stderr: Bool) -> Int {
        let isInput = stream === up
        let tap = stderr ? nil : fileTransfer
        var progress = 0
        while true {
            let window = Int(ssh_channel_window_size(destination))
            var sourceIdle = false
            if tap != nil { moveQueuedFileTransferBytes() }
            if offerUnrecorded(input: isInput), tap == nil || (isInput ? toTargetQueue : toClientQueue).isEmpty, fileTransferError == nil {
                let read = stream.fill(upTo: window - stream.count) { buffer, length in
                    Int(ssh_channel_read_nonblocking(source, buffer, UInt32(length), stderr ? 1 : 0))
                }
                if read > 0 {
                    progress += read
                    record(stream.lastRead(read), input: isInput, stderr: stderr)
                    if let tap { parse(stream, read: read, input: isInput, through: tap) }
                } else {
                    sourceIdle = true
                }
            } else {
                sourceIdle = true
            }
            let length = stream.writableCount(window: window, sourceIdle: sourceIdle, sourceEnded: sourceIdle && ssh_channel_is_eof(source) != 0)
            let written = stream.drain(length) { bytes in
                let result = stderr
                    ? ssh_channel_write_stderr(destination, bytes.baseAddress, UInt32(bytes.count))
                    : ssh_channel_write(destination, bytes.baseAddress, UInt32(bytes.count))
                return Int(result)
            }
            progress += written
            if isInput { bytesUp += written } else { bytesDown += written }
            // Stop when the destination took less than offered, or when this turn moved nothing.
            if written < length || (written == 0 && sourceIdle) || (written == 0 && stream.room == 0) { break }
            if sourceIdle && stream.isEmpty { break }
        }
        return progress
    }

    // MARK: - File transfers

    /// Hands the bytes just read to the tap in place of forwarding them, and forwards what it
    /// returns: whole packets for the target, whole packets (the target's, and Bastion's
    /// refusals between them) for the client.
    private func parse(_ stream: RelayStream, read: Int, input: Bool, through tap: FileTransferTap) {
        let bytes = [UInt8](stream.lastRead(read))
        stream.removeLast(read)
        let step = input ? tap.fromClient(bytes) : tap.fromTarget(bytes)
        toTargetQueue.append(step.toTarget)
        toClientQueue.append(step.toClient)
        fileOperations += step.operations
        if let error = step.protocolError, fileTransferError == nil { fileTransferError = error }
        moveQueuedFileTransferBytes()
    }

    private func moveQueuedFileTransferBytes() {
        toTargetQueue.move(into: up)
        toClientQueue.move(into: down)
    }

    /// Retries a chunk the recorder refused earlier; false while it still refuses (then
    /// nothing more is read from that side). Without a recorder everything is accepted.
    private func offerUnrecorded(input: Bool) -> Bool {
        guard let recorder else { return true }
        if input {
            guard let event = unrecordedInput else { return true }
            guard recorder.offer(event) else { return false }
            unrecordedInput = nil
        } else {
            guard let event = unrecordedOutput else { return true }
            guard recorder.offer(event) else { return false }
            unrecordedOutput = nil
        }
        return true
    }

    /// Hands a chunk just read to the recorder (its own copy: the relay buffer is reused);
    /// a refused chunk is kept and retried before anything more is read from that side.
    /// Input goes only when it is captured, or, on a channel without a terminal, to be
    /// counted and hashed. Output is offered to watchers first (they never slow the session).
    private func record(_ bytes: UnsafeRawBufferPointer, input: Bool, stderr: Bool) {
        if !input { broadcast?.offer(bytes) }
        guard let recorder else { return }
        if input {
            let event: RecordingEvent
            if captureInput {
                event = .input([UInt8](bytes))
            } else if recorder.countsStreams {
                event = .uncapturedInput([UInt8](bytes))
            } else {
                return
            }
            if !recorder.offer(event) { unrecordedInput = event }
        } else {
            let chunk = [UInt8](bytes)
            let event: RecordingEvent = stderr && recorder.countsStreams ? .errorOutput(chunk) : .output(chunk)
            if !recorder.offer(event) { unrecordedOutput = event }
        }
    }

    // MARK: - EOF, exit status, close (RelayEnding decides, in the order OpenSSH needs)

    /// Called after every pump: each fact is read only while the machine still needs it (no
    /// polling of a direction whose EOF already went).
    private func forwardEndings(now: Date) {
        guard !ending.isFinished else { return }
        let targetClosed = ssh_channel_is_closed(target) != 0
        let facts = RelayEnding.Facts(
            clientDone: !ending.eofSentToTarget && up.isEmpty && toTargetQueue.isEmpty && ssh_channel_is_eof(client) != 0,
            targetDone: !ending.eofSentToClient && down.isEmpty && downError.isEmpty && toClientQueue.isEmpty && ssh_channel_is_eof(target) != 0
                && ssh_channel_poll(target, 0) <= 0 && ssh_channel_poll(target, 1) <= 0,
            targetClosed: targetClosed, clientClosed: ssh_channel_is_closed(client) != 0,
            // Belt and braces: libssh also keeps the status it received (does not block once closed).
            keptExitStatus: targetClosed && !ending.exitSent && ending.exitStatus == nil ? ssh_channel_get_exit_status(target) : nil
        )
        perform(ending.advance(facts, now: now))
    }

    private func perform(_ actions: [RelayEnding.Action]) {
        for action in actions {
            switch action {
            case .eofToTarget: ssh_channel_send_eof(target)
            case .eofToClient: ssh_channel_send_eof(client)
            case .exitStatus(let status): ssh_channel_request_send_exit_status(client, status)
            case .exitSignal(let signal):
                ssh_channel_request_send_exit_signal(client, signal.name, signal.coreDumped ? 1 : 0, signal.message, "")
            case .closeClient: ssh_channel_close(client)
            case .closeTarget: ssh_channel_close(target)
            }
        }
    }
}

/// Bytes waiting for room in a relay stream, oldest first (a file-transfer tap may return
/// more than one read: a whole 256 KiB packet, or a refusal on top of the target's packets).
private struct PendingBytes {
    private var bytes: [UInt8] = []
    private var start = 0

    var isEmpty: Bool { start == bytes.count }

    mutating func append(_ more: [UInt8]) {
        guard !more.isEmpty else { return }
        if isEmpty {
            bytes = more
            start = 0
        } else {
            bytes += more
        }
    }

    /// Moves what fits into `stream`.
    mutating func move(into stream: RelayStream) {
        guard !isEmpty else { return }
        let moved = bytes.withUnsafeBytes { stream.append(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        start += moved
        if isEmpty {
            bytes = []
            start = 0
        }
    }
}
