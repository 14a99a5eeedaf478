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

/// The terminal a client asked for (`pty-req`), kept up to date by window changes.
struct TerminalRequest {
    var term: String
    var columns: Int32
    var rows: Int32
}

/// One "session" channel of a front-door connection: a relayed session to a target, a
/// Bastion command, or nothing yet (opened, not yet asked to run anything).
///
/// A connection holds up to `max_sessions` of them: OpenSSH's `ControlMaster` runs every
/// session of a user over one connection. Owned by the connection's thread, like the
/// connection. Lifetime: the connection's `channels` array holds the only strong reference
/// until ``free()``, which first takes the callbacks (and with them the unretained `self`
/// libssh holds as `userdata`) off the channel.
final class SessionChannel {
    unowned let connection: FrontDoorConnection
    let channel: ssh_channel
    var terminal: TerminalRequest?
    /// A command's output (or a refusal) waiting to be written, then exit, EOF and CLOSE.
    var output: PendingOutput?
    /// A Bastion command still talking with the user (`elevate`, `approve`).
    var conversation: (any CommandConversation)?
    var conversationInputEnded = false
    /// When Bastion sent CLOSE (after a command's exit status).
    var closedAt: Date?
    /// The relayed session, when the username was `LOGIN@TARGET` and the channel asked to run.
    var live: LiveSession?
    var upstreamInEvent = false
    /// A target's exit reported while the relay was still being set up (`ssh … true`).
    var earlyTargetExit = TargetExit()
    /// Why the channel may not run anything, told at its shell or exec request: a refused
    /// channel open carries no text in libssh 0.10, and `ssh` prints nothing useful for it.
    var refusalAtRequest: EnforcementReason?

    // libssh keeps pointers to these structs: heap-allocated so their addresses are stable;
    // `.size` is set by hand because `ssh_callbacks_init` is a C macro.
    let callbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)
    let targetCallbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)

    init(connection: FrontDoorConnection, channel: ssh_channel) {
        self.connection = connection
        self.channel = channel
        callbacks.initialize(to: ssh_channel_callbacks_struct())
        targetCallbacks.initialize(to: ssh_channel_callbacks_struct())
        installCallbacks()
    }

    deinit {
        callbacks.deallocate()
        targetCallbacks.deallocate()
    }

    var services: FrontDoorServices { connection.services }
    var identity: AuthenticatedIdentity? { connection.identity }
    var logger: Logger { connection.logger }
    var userdata: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> SessionChannel {
        Unmanaged<SessionChannel>.fromOpaque(userdata!).takeUnretainedValue()
    }

    /// Whether the channel is over: nothing runs or waits to be written, and it is closed
    /// (by Bastion, the client, or both).
    var isDone: Bool {
        live == nil && output == nil && conversation == nil && ssh_channel_is_closed(channel) != 0
    }

    /// Whether a command or relayed session runs, or output waits (the connection is in use).
    var isBusy: Bool { live != nil || output != nil || conversation != nil }

    /// Takes the callbacks off and frees the channel. libssh keeps its own record until the
    /// client's CLOSE arrives (and sends Bastion's CLOSE if it has not gone out).
    func free() {
        ssh_remove_channel_callbacks(channel, callbacks)
        ssh_channel_free(channel)
    }

    private func installCallbacks() {
        callbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        callbacks.pointee.userdata = userdata
        callbacks.pointee.channel_pty_request_function = { _, _, term, columns, rows, _, _, userdata in
            let name = term.map { String(cString: $0) } ?? "xterm"
            SessionChannel.from(userdata).terminal = TerminalRequest(term: name, columns: columns, rows: rows)
            return 0
        }
        callbacks.pointee.channel_pty_window_change_function = { _, _, columns, rows, _, _, userdata in
            SessionChannel.from(userdata).resize(columns: columns, rows: rows)
            return 0
        }
        callbacks.pointee.channel_signal_function = { _, _, signal, userdata in
            let channel = SessionChannel.from(userdata)
            if channel.conversation != nil {
                channel.interruptConversation()
                return
            }
            guard let signal, let relay = channel.live?.relay else { return }
            ssh_channel_request_send_signal(relay.target, signal)
        }
        callbacks.pointee.channel_subsystem_request_function = { _, _, subsystem, userdata in
            let name = subsystem.map { String(cString: $0) } ?? ""
            return SessionChannel.from(userdata).startSession(.subsystem(name))
        }
        callbacks.pointee.channel_env_request_function = { _, _, _, _, _ in 0 }  // accepted and ignored
        // OpenSSH sends auth-agent-req without want-reply; Bastion never opens an agent
        // channel back, so the request is only recorded.
        callbacks.pointee.channel_auth_agent_req_function = { _, _, userdata in
            SessionChannel.from(userdata).connection.refuseForwarding("agent forwarding")
        }
        callbacks.pointee.channel_shell_request_function = { _, _, userdata in
            SessionChannel.from(userdata).startSession(.shell)
        }
        callbacks.pointee.channel_exec_request_function = { _, _, command, userdata in
            let commandLine: String = if let command { String(cString: command) } else { "" }
            return SessionChannel.from(userdata).startSession(.exec(commandLine))
        }
        ssh_set_channel_callbacks(channel, callbacks)
    }

    /// Routes a shell, exec or subsystem request: to a target for `LOGIN@TARGET`, to
    /// Bastion's own commands otherwise (which have no subsystems).
    func startSession(_ kind: SessionKind) -> Int32 {
        guard let identity, live == nil, output == nil, conversation == nil, closedAt == nil else { return 1 }
        if let reason = refusalAtRequest {
            refusalAtRequest = nil
            if reason.endsConnection {
                connection.end(reason, now: services.clock.now())
            } else {
                refuse(reason, kind: kind)
            }
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

    /// Refuses this channel alone (one session past `max_sessions`): one line to the user,
    /// exit status 1, and an audit record; the connection's other channels go on.
    private func refuse(_ reason: EnforcementReason, kind: SessionKind) {
        var target = ""
        var details = ["kind": kind.name]
        if case .target(let login, let name)? = identity?.request {
            target = name
            details["login"] = login
        }
        connection.audit(.sessionDenied, outcome: .failure, target: target, reason: reason.auditReason, details: details)
        logger.info("session channel refused", metadata: ["reason": "\(reason.auditReason)"])
        output = PendingOutput(stdout: [], stderr: FrontDoorConnection.lineForUser(reason, terminal: terminal != nil), exitStatus: 1)
    }

    /// Forwards a window change to the target and records it.
    func resize(columns: Int32, rows: Int32) {
        terminal?.columns = columns
        terminal?.rows = rows
        guard let relay = live?.relay else { return }
        ssh_channel_change_pty_size(relay.target, columns, rows)
        _ = relay.recorder?.offerResize(columns: Int(columns), rows: Int(rows))
        relay.broadcast?.resize(.init(columns: Int(columns), rows: Int(rows)))
    }

    /// Tells the user why the connection ends (a command's stderr, exit status 1), or ends
    /// the relayed session with its own close sequence.
    func end(_ reason: EnforcementReason, now: Date) {
        if live != nil {
            terminate(reason, now: now)
            return
        }
        guard closedAt == nil else { return }
        interruptConversation()
        refusalAtRequest = nil
        output = PendingOutput(stdout: [], stderr: FrontDoorConnection.lineForUser(reason, terminal: terminal != nil), exitStatus: 1)
    }

    // MARK: - Bastion commands

    /// Runs a Bastion command (shell = nil); the output is written from the event loop.
    func runCommand(_ commandLine: String?) -> Int32 {
        guard let identity, output == nil, closedAt == nil else { return 1 }
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
        if terminal != nil {
            output = PendingOutput(stdout: Self.crlf(result.stdout), stderr: Self.crlf(result.stderr), exitStatus: result.exitStatus)
        } else {
            output = PendingOutput(stdout: result.stdout, stderr: result.stderr, exitStatus: result.exitStatus)
        }
        return 0
    }

    /// Writes a command's output, then exit-status, EOF and CLOSE, in the order OpenSSH
    /// expects (exit-status before CLOSE, or `ssh` reports no status).
    func deliverOutputIfReady() {
        guard let pending = output, closedAt == nil else { return }
        output = nil
        write(pending.stdout, stderr: false)
        write(pending.stderr, stderr: true)
        ssh_channel_request_send_exit_status(channel, pending.exitStatus)
        ssh_channel_send_eof(channel)
        ssh_channel_close(channel)
        closedAt = Date()
    }

    /// One turn of a running conversation: what the user typed, end of input, the clock.
    func serviceConversation() {
        guard let conversation, closedAt == nil else { return }
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
        guard closedAt == nil else { return }
        let terminal = terminal != nil && !step.verbatim
        if !step.stdout.isEmpty { write(terminal ? Self.crlf(step.stdout) : step.stdout, stderr: false) }
        if !step.stderr.isEmpty { write(terminal ? Self.crlf(step.stderr) : step.stderr, stderr: true) }
        if let status = step.exitStatus {
            conversation = nil
            output = PendingOutput(stdout: [], stderr: [], exitStatus: status)
        }
    }

    /// Blocking write of the whole buffer (the session is in blocking mode; libssh waits
    /// for window space).
    private func write(_ bytes: [UInt8], stderr: Bool) {
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

/// How the target's side of a session ended, as it reported it.
struct TargetExit {
    var status: Int32?
    var signal: ExitSignal?
}
