import BastionCore
import CLibSSH
import Foundation
import Logging

/// Output of a Bastion command waiting to be written to the client.
struct PendingOutput {
    var stdout: [UInt8]
    var stderr: [UInt8]
    var exitStatus: Int32
}

extension FrontDoorConnection {
    /// Accepts one "session" channel per authenticated connection.
    func openSessionChannel() -> ssh_channel? {
        guard identity != nil, channel == nil, !enforcementEnded, let newChannel = ssh_channel_new(session) else { return nil }
        // A refusal is told on the channel at its shell or exec request: a refused channel
        // open carries no text, and ssh would leave before reading a disconnect message.
        refusalAtRequest = refusalOfChannel(.session)
        channel = newChannel
        channelCallbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        channelCallbacks.pointee.userdata = userdata
        channelCallbacks.pointee.channel_pty_request_function = { _, _, term, columns, rows, _, _, userdata in
            let name = term.map { String(cString: $0) } ?? "xterm"
            FrontDoorConnection.from(userdata).ptySize = (name, columns, rows)
            return 0
        }
        channelCallbacks.pointee.channel_pty_window_change_function = { _, _, columns, rows, _, _, userdata in
            FrontDoorConnection.from(userdata).resize(columns: columns, rows: rows)
            return 0
        }
        channelCallbacks.pointee.channel_signal_function = { _, _, signal, userdata in
            let connection = FrontDoorConnection.from(userdata)
            if connection.conversation != nil {
                connection.interruptConversation()
                return
            }
            guard let signal, let relay = connection.live?.relay else { return }
            ssh_channel_request_send_signal(relay.target, signal)
        }
        channelCallbacks.pointee.channel_subsystem_request_function = { _, _, subsystem, userdata in
            let name = subsystem.map { String(cString: $0) } ?? ""
            return FrontDoorConnection.from(userdata).startSession(.subsystem(name))
        }
        channelCallbacks.pointee.channel_env_request_function = { _, _, _, _, _ in 0 }  // accepted and ignored
        // OpenSSH sends auth-agent-req without want-reply; Bastion never opens an agent
        // channel back, so the request is only recorded.
        channelCallbacks.pointee.channel_auth_agent_req_function = { _, _, userdata in
            FrontDoorConnection.from(userdata).refuseForwarding("agent forwarding")
        }
        channelCallbacks.pointee.channel_shell_request_function = { _, _, userdata in
            FrontDoorConnection.from(userdata).startSession(.shell)
        }
        channelCallbacks.pointee.channel_exec_request_function = { _, _, command, userdata in
            let commandLine: String = if let command { String(cString: command) } else { "" }
            return FrontDoorConnection.from(userdata).startSession(.exec(commandLine))
        }
        ssh_set_channel_callbacks(newChannel, channelCallbacks)
        return newChannel
    }

    /// Routes a shell, exec or subsystem request: to a target for `LOGIN@TARGET`, to
    /// Bastion's own commands otherwise (which have no subsystems).
    func startSession(_ kind: SessionKind) -> Int32 {
        guard let identity else { return 1 }
        if let reason = refusalAtRequest {
            refusalAtRequest = nil
            end(reason, now: services.clock.now())
            return 0
        }
        switch (identity.request, kind) {
        case (.target, _): return startTargetSession(kind)
        case (.bastion, .shell): return runCommand(nil)
        case (.bastion, .exec(let command)): return runCommand(command)
        case (.bastion, .subsystem(let name)):
            logger.info("subsystem refused", metadata: ["subsystem": "\(name)"])
            return 1
        }
    }

    /// Forwards a window change to the target and records it.
    func resize(columns: Int32, rows: Int32) {
        if let pty = ptySize { ptySize = (pty.term, columns, rows) }
        guard let relay = live?.relay else { return }
        ssh_channel_change_pty_size(relay.target, columns, rows)
        _ = relay.recorder?.offerResize(columns: Int(columns), rows: Int(rows))
    }

    /// Runs a Bastion command (shell = nil); the output is written from the event loop.
    func runCommand(_ commandLine: String?) -> Int32 {
        guard let identity, output == nil, channelClosedAt == nil else { return 1 }
        let result: CommandOutput
        switch services.commands.start(commandLine: commandLine, as: identity) {
        case .output(let output):
            result = output
        case .conversation(let conversation):
            self.conversation = conversation
            conversationInputEnded = false
            apply(conversation.start(now: services.clock.now()))
            return 0
        }
        // With a PTY the client's terminal is raw: lines need CR LF.
        if ptySize != nil {
            output = PendingOutput(stdout: Self.crlf(result.stdout), stderr: Self.crlf(result.stderr), exitStatus: result.exitStatus)
        } else {
            output = PendingOutput(stdout: result.stdout, stderr: result.stderr, exitStatus: result.exitStatus)
        }
        return 0
    }

    /// Writes a command's output, then exit-status, EOF and CLOSE, in the order OpenSSH
    /// expects (exit-status before CLOSE, or `ssh` reports no status).
    func deliverOutputIfReady() {
        guard let pending = output, let channel, channelClosedAt == nil else { return }
        output = nil
        write(pending.stdout, to: channel, stderr: false)
        write(pending.stderr, to: channel, stderr: true)
        ssh_channel_request_send_exit_status(channel, pending.exitStatus)
        ssh_channel_send_eof(channel)
        ssh_channel_close(channel)
        channelClosedAt = Date()
    }

    /// One turn of a running conversation: what the user typed, end of input, the clock.
    func serviceConversation() {
        guard let conversation, let channel, channelClosedAt == nil else { return }
        let now = services.clock.now()
        if ssh_channel_is_closed(channel) != 0 {
            interruptConversation()
            return
        }
        var buffer = [UInt8](repeating: 0, count: 256)
        while self.conversation != nil {
            let count = buffer.withUnsafeMutableBytes { ssh_channel_read_nonblocking(channel, $0.baseAddress, UInt32($0.count), 0) }
            guard count > 0 else { break }
            apply(conversation.receive(Array(buffer[0..<Int(count)]), now: now))
        }
        guard self.conversation != nil else { return }
        if !conversationInputEnded, ssh_channel_is_eof(channel) != 0 {
            conversationInputEnded = true
            apply(conversation.endOfInput(now: now))
        }
        if self.conversation != nil { apply(conversation.tick(now: now)) }
    }

    /// Ctrl-C as a signal, a closed channel, or the connection ending.
    func interruptConversation() {
        guard let conversation else { return }
        apply(conversation.interrupt(now: services.clock.now()))
        self.conversation = nil
    }

    /// Writes what a conversation said; when it is over, queues the exit like a command's.
    private func apply(_ step: CommandStep) {
        guard let channel, channelClosedAt == nil else { return }
        let terminal = ptySize != nil && !step.verbatim
        if !step.stdout.isEmpty { write(terminal ? Self.crlf(step.stdout) : step.stdout, to: channel, stderr: false) }
        if !step.stderr.isEmpty { write(terminal ? Self.crlf(step.stderr) : step.stderr, to: channel, stderr: true) }
        if let status = step.exitStatus {
            conversation = nil
            output = PendingOutput(stdout: [], stderr: [], exitStatus: status)
        }
    }

    /// Blocking write of the whole buffer (the session is in blocking mode; libssh waits
    /// for window space).
    private func write(_ bytes: [UInt8], to channel: ssh_channel, stderr: Bool) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                stderr
                    ? ssh_channel_write_stderr(channel, buffer.baseAddress, UInt32(buffer.count))
                    : ssh_channel_write(channel, buffer.baseAddress, UInt32(buffer.count))
            }
            guard written > 0 else { return }
            offset += Int(written)
        }
    }

    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + bytes.count / 16)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A, previous != 0x0D { result.append(0x0D) }
            result.append(byte)
            previous = byte
        }
        return result
    }
}
