import CLibSSH
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// libssh-floor: the least a libssh relay can do for one session, so that the benchmark can
// print what libssh itself costs next to what bastiond costs.
//
// Per connection, on a thread of its own (as bastiond): the front key exchange with an
// Ed25519 host key, public-key authentication (any key or certificate is accepted after
// libssh has checked its signature), one session channel and its exec request, then an
// upstream libssh client connection to the target (key exchange, certificate
// authentication, channel, the same exec), the target's output and exit status relayed
// back, EOF and CLOSE. Nothing of Bastion's own: no policy, no certificate checks against a
// CA, no audit record, no recording, no database, no per-session key or certificate (one
// key and certificate, loaded at start, serve every session).
//
// Benchmark-only code: it trusts every client and is never built into bastiond.
//
// usage: libssh-floor --port-file PATH --host-key PATH --target-port N --login NAME
//                     --identity PATH --certificate PATH

struct Arguments {
    var portFile = ""
    var hostKey = ""
    var targetPort = 0
    var login = "root"
    var identity = ""
    var certificate = ""

    init(_ words: [String]) {
        var index = 1
        func value() -> String {
            index += 1
            guard index < words.count else { fail("\(words[index - 1]) needs a value") }
            return words[index]
        }
        while index < words.count {
            switch words[index] {
            case "--port-file": portFile = value()
            case "--host-key": hostKey = value()
            case "--target-port": targetPort = Int(value()) ?? 0
            case "--login": login = value()
            case "--identity": identity = value()
            case "--certificate": certificate = value()
            default: fail("unknown argument \(words[index])")
            }
            index += 1
        }
        guard !portFile.isEmpty, !hostKey.isEmpty, targetPort > 0, !identity.isEmpty, !certificate.isEmpty else {
            fail("usage: libssh-floor --port-file PATH --host-key PATH --target-port N --login NAME --identity PATH --certificate PATH")
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("libssh-floor: \(message)\n".utf8))
    exit(2)
}

/// The upstream credential, read once: the certificate (offered first) and the key with the
/// certificate attached (which signs), as bastiond's per-session credential.
struct UpstreamKey: @unchecked Sendable {
    let key: ssh_key
    let certificate: ssh_key

    init(identity: String, certificate: String) {
        var key: ssh_key?
        var certificateKey: ssh_key?
        guard ssh_pki_import_privkey_file(identity, nil, nil, nil, &key) == SSH_OK, let key else { fail("cannot read \(identity)") }
        guard ssh_pki_import_cert_file(certificate, &certificateKey) == SSH_OK, let certificateKey else {
            fail("cannot read \(certificate)")
        }
        guard ssh_pki_copy_cert_to_privkey(certificateKey, key) == SSH_OK else { fail("certificate does not match the key") }
        self.key = key
        self.certificate = certificateKey
    }
}

/// One relayed session; returns when the client has the exit status and the channel is closed.
func serve(_ session: OpaquePointer, arguments: Arguments, upstreamKey: UpstreamKey) {
    // libssh keeps a pointer to the callbacks: they live as long as the session.
    let callbacks = UnsafeMutablePointer<ssh_server_callbacks_struct>.allocate(capacity: 1)
    defer {
        ssh_disconnect(session)
        ssh_free(session)
        callbacks.deallocate()
    }
    acceptAnySignedKey(session, callbacks: callbacks)
    guard ssh_handle_key_exchange(session) == SSH_OK else { return }
    guard let (channel, command) = acceptExec(session) else { return }
    defer { ssh_channel_free(channel) }
    let status = relay(command: command, to: channel, arguments: arguments, upstreamKey: upstreamKey)
    ssh_channel_request_send_exit_status(channel, status)
    ssh_channel_send_eof(channel)
    ssh_channel_close(channel)
    // The client answers CLOSE, sends DISCONNECT and hangs up; wait for that (at most 10 s),
    // as bastiond does. Closing first would make the client's DISCONNECT fail ("send
    // disconnect: Broken pipe", exit 255) whenever it raced the close.
    let deadline = Date().addingTimeInterval(10)
    guard let event = ssh_event_new() else { return }
    ssh_event_add_session(event, session)
    while ssh_is_connected(session) != 0, Date() < deadline, ssh_event_dopoll(event, 100) != SSH_ERROR {}
    ssh_event_remove_session(event, session)
    ssh_event_free(event)
}

/// Public-key authentication that accepts any key whose signature libssh verified.
func acceptAnySignedKey(_ session: OpaquePointer, callbacks: UnsafeMutablePointer<ssh_server_callbacks_struct>) {
    callbacks.initialize(to: ssh_server_callbacks_struct())
    callbacks.pointee.size = MemoryLayout<ssh_server_callbacks_struct>.size
    // State NONE is OpenSSH's "would this key do?"; VALID is a request libssh has verified.
    callbacks.pointee.auth_pubkey_function = { _, _, _, state, _ in
        state == SSH_PUBLICKEY_STATE_NONE.rawValue || state == SSH_PUBLICKEY_STATE_VALID.rawValue
            ? Int32(SSH_AUTH_SUCCESS.rawValue) : Int32(SSH_AUTH_DENIED.rawValue)
    }
    ssh_set_server_callbacks(session, callbacks)
    ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PUBLICKEY))
}

/// What the message callback learned: the session channel and its exec command.
final class ExecRequest {
    var channel: ssh_channel?
    var command: String?
}

/// The session channel and its exec request, after authentication. With server callbacks
/// set, libssh answers any message no callback takes with a refusal, so channel requests
/// arrive through the message callback, as in bastiond.
func acceptExec(_ session: OpaquePointer) -> (ssh_channel, String)? {
    let request = ExecRequest()
    let userdata = Unmanaged.passUnretained(request).toOpaque()
    ssh_set_message_callback(session, { _, message, userdata in
        guard let message, let userdata else { return 1 }
        let request = Unmanaged<ExecRequest>.fromOpaque(userdata).takeUnretainedValue()
        let type = ssh_message_type(message)
        let subtype = ssh_message_subtype(message)
        if request.channel == nil, type == SSH_REQUEST_CHANNEL_OPEN.rawValue, subtype == SSH_CHANNEL_SESSION.rawValue {
            request.channel = ssh_message_channel_request_open_reply_accept(message)
            return 0
        }
        if request.channel != nil, type == SSH_REQUEST_CHANNEL.rawValue, subtype == SSH_CHANNEL_REQUEST_EXEC.rawValue,
            let command = ssh_message_channel_request_command(message)
        {
            request.command = String(cString: command)
            ssh_message_channel_request_reply_success(message)
            return 0
        }
        if type == SSH_REQUEST_CHANNEL.rawValue, subtype == SSH_CHANNEL_REQUEST_ENV.rawValue {
            ssh_message_channel_request_reply_success(message)
            return 0
        }
        return 1
    }, userdata)
    guard let event = ssh_event_new() else { return nil }
    defer {
        ssh_event_remove_session(event, session)
        ssh_event_free(event)
    }
    ssh_event_add_session(event, session)
    let deadline = Date().addingTimeInterval(10)
    while request.command == nil, ssh_is_connected(session) != 0, Date() < deadline {
        guard ssh_event_dopoll(event, 100) != SSH_ERROR else { break }
    }
    withExtendedLifetime(request) {}
    guard let channel = request.channel else { return nil }
    guard let command = request.command else {
        ssh_channel_free(channel)
        return nil
    }
    return (channel, command)
}

/// Runs `command` on the target and copies its stdout and stderr to `client`; returns its
/// exit status (255 when the target could not be reached, as ssh reports it).
func relay(command: String, to client: ssh_channel, arguments: Arguments, upstreamKey: UpstreamKey) -> Int32 {
    guard let upstream = ssh_new() else { return 255 }
    defer {
        ssh_disconnect(upstream)
        ssh_free(upstream)
    }
    var noConfig = false
    var port = UInt32(arguments.targetPort)
    var noDelay: Int32 = 1
    ssh_options_set(upstream, SSH_OPTIONS_PROCESS_CONFIG, &noConfig)
    ssh_options_set(upstream, SSH_OPTIONS_HOST, "127.0.0.1")
    ssh_options_set(upstream, SSH_OPTIONS_PORT, &port)
    ssh_options_set(upstream, SSH_OPTIONS_USER, arguments.login)
    ssh_options_set(upstream, SSH_OPTIONS_NODELAY, &noDelay)
    ssh_options_set(upstream, SSH_OPTIONS_KNOWNHOSTS, "/dev/null")
    ssh_options_set(upstream, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null")
    ssh_options_set(upstream, SSH_OPTIONS_HOSTKEYS, "ssh-ed25519")
    ssh_options_set(upstream, SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519")
    ssh_options_set(upstream, SSH_OPTIONS_COMPRESSION_C_S, "none")
    ssh_options_set(upstream, SSH_OPTIONS_COMPRESSION_S_C, "none")
    guard ssh_connect(upstream) == SSH_OK,
        ssh_userauth_try_publickey(upstream, nil, upstreamKey.certificate) == Int32(SSH_AUTH_SUCCESS.rawValue),
        ssh_userauth_publickey(upstream, nil, upstreamKey.key) == Int32(SSH_AUTH_SUCCESS.rawValue),
        let target = ssh_channel_new(upstream)
    else { return 255 }
    defer { ssh_channel_free(target) }
    guard ssh_channel_open_session(target) == SSH_OK, ssh_channel_request_exec(target, command) == SSH_OK else { return 255 }
    copyUntilTargetEnds(client: client, target: target)
    let status = ssh_channel_get_exit_status(target)
    ssh_channel_close(target)
    return status < 0 ? 255 : status
}

/// Copies the client's input to the target and the target's stdout and stderr back until
/// the target's output ends: one poll loop over both sessions, writes sized to the peer's
/// window so that none blocks. No recording, no hold-back of partial packets, no timeouts:
/// the least a relay does.
func copyUntilTargetEnds(client: ssh_channel, target: ssh_channel) {
    guard let event = ssh_event_new() else { return }
    let clientSession = ssh_channel_get_session(client)
    let targetSession = ssh_channel_get_session(target)
    ssh_set_blocking(targetSession, 0)
    ssh_event_add_session(event, clientSession)
    ssh_event_add_session(event, targetSession)
    defer {
        ssh_event_remove_session(event, clientSession)
        ssh_event_remove_session(event, targetSession)
        ssh_event_free(event)
        ssh_set_blocking(targetSession, 1)
    }
    let capacity = 4 * 32_758
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    // Input the target's session did not take yet (a write returns short during a re-key).
    let input = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    defer {
        buffer.deallocate()
        input.deallocate()
    }
    var pending = 0
    var pendingOffset = 0
    var inputEnded = false
    var output = 0
    var outputOffset = 0
    var outputStream: Int32 = 0
    while ssh_channel_is_eof(target) == 0 || ssh_channel_poll(target, 0) > 0 || ssh_channel_poll(target, 1) > 0 || output > 0 {
        var moved = 0
        if pending == 0, !inputEnded {
            let room = min(capacity, Int(ssh_channel_window_size(target)))
            if room > 0 {
                let count = ssh_channel_read_nonblocking(client, input, UInt32(room), 0)
                if count > 0 {
                    pending = Int(count)
                    pendingOffset = 0
                }
            }
        }
        if pending > 0 {
            let written = Int(ssh_channel_write(target, input + pendingOffset, UInt32(pending)))
            if written > 0 {
                pending -= written
                pendingOffset += written
                moved += written
            }
        }
        if pending == 0, !inputEnded {
            if ssh_channel_is_eof(client) != 0, ssh_channel_poll(client, 0) <= 0 {
                ssh_channel_send_eof(target)
                inputEnded = true
            }
        }
        // Output the client's session did not take yet: a write can return short (its
        // window filled up meanwhile), and what it did not take must go first, not be lost.
        if output > 0 {
            let written = Int(
                outputStream == 0
                    ? ssh_channel_write(client, buffer + outputOffset, UInt32(output))
                    : ssh_channel_write_stderr(client, buffer + outputOffset, UInt32(output))
            )
            if written > 0 {
                output -= written
                outputOffset += written
                moved += written
            }
        }
        for stream: Int32 in [0, 1] where output == 0 {
            let room = min(capacity, Int(ssh_channel_window_size(client)))
            guard room > 0 else { continue }
            let count = ssh_channel_read_nonblocking(target, buffer, UInt32(room), stream)
            guard count > 0 else { continue }
            let written = max(0, Int(stream == 0 ? ssh_channel_write(client, buffer, UInt32(count)) : ssh_channel_write_stderr(client, buffer, UInt32(count))))
            moved += written
            output = Int(count) - written
            outputOffset = written
            outputStream = stream
        }
        if ssh_is_connected(clientSession) == 0 || ssh_is_connected(targetSession) == 0 { break }
        if moved == 0, ssh_event_dopoll(event, 100) == SSH_ERROR { break }
    }
}

let arguments = Arguments(CommandLine.arguments)
ssh_init()
signal(SIGPIPE, SIG_IGN)
let upstreamKey = UpstreamKey(identity: arguments.identity, certificate: arguments.certificate)
guard let bind = ssh_bind_new() else { fail("ssh_bind_new failed") }
var noConfig = false
ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &noConfig)
ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDADDR, "127.0.0.1")
ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDPORT_STR, "0")
ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, "ssh-ed25519")
guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, arguments.hostKey) == SSH_OK else { fail("cannot use \(arguments.hostKey)") }
guard ssh_bind_listen(bind) == SSH_OK else { fail("listen failed") }
var address = sockaddr_in()
var length = socklen_t(MemoryLayout<sockaddr_in>.size)
_ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(ssh_bind_get_fd(bind), $0, &length) }
}
// Written to a temporary name and renamed, so the benchmark never reads half a number.
let boundPort = Int(UInt16(bigEndian: address.sin_port))
try String(boundPort).write(toFile: arguments.portFile + ".new", atomically: false, encoding: .utf8)
rename(arguments.portFile + ".new", arguments.portFile)

struct SessionHandle: @unchecked Sendable { let pointer: OpaquePointer }
while true {
    guard let session = ssh_new() else { fail("ssh_new failed") }
    guard ssh_bind_accept(bind, session) == SSH_OK else {
        ssh_free(session)
        continue
    }
    let handle = SessionHandle(pointer: session)
    let thread = Thread { serve(handle.pointer, arguments: arguments, upstreamKey: upstreamKey) }
    thread.stackSize = 1 << 20
    thread.start()
}
