import BastionCore
import CLibSSH
import Foundation

/// Moves bytes between the client's channel and the target's, for one session.
///
/// Owned by the connection thread alone (no locks per packet, STYLE.md rule 4).
/// Re-key safety: `ssh_channel_write` on the non-blocking target session returns a short
/// count while a key exchange runs; the bytes it did not take stay in a pending buffer and
/// nothing more is read until they are written (ssh-engine.md). Backpressure: nothing is
/// read from one side while the other side's window is closed or the recorder's queue is
/// full, so a slow client, target or disk slows the session instead of growing memory.
final class SessionRelay {
    let client: ssh_channel
    let upstream: UpstreamSession
    let target: ssh_channel
    var recorder: SessionRecorder?
    let captureInput: Bool

    // Bytes read but not yet written, per direction and stream.
    private var pendingUp: [UInt8] = []
    private var pendingDown: [UInt8] = []
    private var pendingDownError: [UInt8] = []
    // Output read from the target that the recorder's queue has not accepted yet.
    private var unrecordedOutput: [UInt8] = []
    private var unrecordedInput: [UInt8] = []
    private var buffer = [UInt8](repeating: 0, count: 32 * 1024)

    private(set) var bytesUp = 0
    private(set) var bytesDown = 0
    private(set) var lastActivity: Date
    var exitStatus: Int32?
    var exitSignal: (name: String, coreDumped: Bool, message: String)?
    private var eofToTarget = false
    private var eofToClient = false
    private var exitSent = false
    private(set) var closeSentAt: Date?

    init(client: ssh_channel, upstream: UpstreamSession, target: ssh_channel, recorder: SessionRecorder?, captureInput: Bool, now: Date) {
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
            let moved = pumpUp() + pumpDown(stderr: false) + pumpDown(stderr: true)
            if moved == 0 { break }
            movedAny = true
        }
        if movedAny { lastActivity = now }
        forwardEndings(now: now)
        return movedAny
    }

    /// True once Bastion has sent the client its exit status (if any), EOF and CLOSE, or the
    /// client closed first; the connection then waits for the client to hang up.
    func isFinished(now: Date) -> Bool {
        closeSentAt != nil
    }

    /// Ends the session from Bastion's side (timeout, expiry, lock, recording failure):
    /// one line to the user, then EOF and CLOSE without an exit status.
    func terminate(message: String, now: Date) {
        let line = Array("\r\nbastion: \(message)\r\n".utf8)
        _ = line.withUnsafeBytes { ssh_channel_write_stderr(client, $0.baseAddress, UInt32($0.count)) }
        if ssh_channel_is_eof(target) == 0 { ssh_channel_send_eof(target) }
        ssh_channel_close(target)
        if !eofToClient {
            ssh_channel_send_eof(client)
            eofToClient = true
        }
        if closeSentAt == nil {
            ssh_channel_close(client)
            closeSentAt = now
        }
    }

    // MARK: - Directions

    private func pumpUp() -> Int {
        var moved = 0
        if !pendingUp.isEmpty {
            let written = write(pendingUp[...], to: target, stderr: false)
            pendingUp.removeFirst(written)
            moved += written
            if !pendingUp.isEmpty { return account(up: moved) }
        }
        if !unrecordedInput.isEmpty {
            guard recorder?.offerInput(unrecordedInput) ?? true else { return account(up: moved) }
            unrecordedInput = []
        }
        while true {
            let window = Int(ssh_channel_window_size(target))
            guard window > 0 else { break }
            let want = UInt32(min(buffer.count, window))
            let count = buffer.withUnsafeMutableBytes { ssh_channel_read_nonblocking(client, $0.baseAddress, want, 0) }
            guard count > 0 else { break }
            let chunk = buffer[0..<Int(count)]
            if captureInput, let recorder, !recorder.offerInput(Array(chunk)) { unrecordedInput = Array(chunk) }
            let written = write(chunk, to: target, stderr: false)
            moved += written
            if written < chunk.count {
                pendingUp = Array(chunk[(chunk.startIndex + written)...])
                break
            }
            if !unrecordedInput.isEmpty { break }
        }
        return account(up: moved)
    }

    private func pumpDown(stderr: Bool) -> Int {
        var moved = 0
        if !(stderr ? pendingDownError : pendingDown).isEmpty {
            let pending = stderr ? pendingDownError : pendingDown
            let written = write(pending[...], to: client, stderr: stderr)
            let rest = Array(pending.dropFirst(written))
            if stderr { pendingDownError = rest } else { pendingDown = rest }
            moved += written
            if !rest.isEmpty { return account(down: moved) }
        }
        if !unrecordedOutput.isEmpty {
            guard recorder?.offerOutput(unrecordedOutput) ?? true else { return account(down: moved) }
            unrecordedOutput = []
        }
        while true {
            let window = Int(ssh_channel_window_size(client))
            guard window > 0 else { break }
            let want = UInt32(min(buffer.count, window))
            let count = buffer.withUnsafeMutableBytes { ssh_channel_read_nonblocking(target, $0.baseAddress, want, stderr ? 1 : 0) }
            guard count > 0 else { break }
            let chunk = buffer[0..<Int(count)]
            if let recorder, !recorder.offerOutput(Array(chunk)) { unrecordedOutput = Array(chunk) }
            let written = write(chunk, to: client, stderr: stderr)
            moved += written
            if written < chunk.count {
                let rest = Array(chunk[(chunk.startIndex + written)...])
                if stderr { pendingDownError = rest } else { pendingDown = rest }
                break
            }
            if !unrecordedOutput.isEmpty { break }
        }
        return account(down: moved)
    }

    private func account(up: Int = 0, down: Int = 0) -> Int {
        bytesUp += up
        bytesDown += down
        return up + down
    }

    private func write(_ bytes: ArraySlice<UInt8>, to channel: ssh_channel, stderr: Bool) -> Int {
        guard !bytes.isEmpty else { return 0 }
        let written = bytes.withUnsafeBytes { buffer in
            stderr
                ? ssh_channel_write_stderr(channel, buffer.baseAddress, UInt32(buffer.count))
                : ssh_channel_write(channel, buffer.baseAddress, UInt32(buffer.count))
        }
        return Int(max(written, 0))
    }

    // MARK: - EOF, exit status, close (order matters to OpenSSH)

    private func forwardEndings(now: Date) {
        if !eofToTarget, pendingUp.isEmpty, ssh_channel_is_eof(client) != 0 {
            ssh_channel_send_eof(target)
            eofToTarget = true
        }
        if !eofToClient, pendingDown.isEmpty, pendingDownError.isEmpty, ssh_channel_is_eof(target) != 0,
            ssh_channel_poll(target, 0) <= 0, ssh_channel_poll(target, 1) <= 0
        {
            ssh_channel_send_eof(client)
            eofToClient = true
        }
        if !exitSent, eofToClient, exitStatus != nil || exitSignal != nil || ssh_channel_is_closed(target) != 0 {
            if let signal = exitSignal {
                ssh_channel_request_send_exit_signal(client, signal.name, signal.coreDumped ? 1 : 0, signal.message, "")
            } else if let status = exitStatus {
                ssh_channel_request_send_exit_status(client, status)
            }
            exitSent = true
        }
        if closeSentAt == nil, exitSent, eofToClient {
            ssh_channel_close(client)
            closeSentAt = now
        }
        if closeSentAt == nil, ssh_channel_is_closed(client) != 0 {
            // The client went away first: close the target side too.
            ssh_channel_close(target)
            closeSentAt = now
        }
    }
}
